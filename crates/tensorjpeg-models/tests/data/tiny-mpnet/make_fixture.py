# Regenerates this fixture (tiny random MPNet + WordPiece tokenizer + sentence-transformers
# reference embeddings) with torch 2.15, transformers 5.25, sentence-transformers 6.3 and
# tokenizers 0.23 from PyPI. It read the real all-mpnet-base-v2 tokenizer.json (REAL) for
# its post-processor type and wrote into OUT; both paths are where it ran once, by hand.
import json, os, glob, math
import torch
from tokenizers import Tokenizer, models as tm, normalizers, pre_tokenizers, processors, decoders

OUT = '/tmp/tiny-mpnet/out'
REAL = json.load(open('/tmp/mpnet-ref/model/tokenizer.json'))
for f in glob.glob(OUT + '/*'):
    os.remove(f)

# ---- 1. tokenizer ----
words = ["the", "a", "cat", "dog", "sat", "on", "mat", "quick", "brown", "fox", "jump", "over",
         "lazy", "and", "of", "to", "in", "is", "it", "was", "he", "she", "run", "walk", "red",
         "big", "small", "house", "tree", "hello", "world", "you", "i", "not", "with", "for",
         "play", "look", "read", "book",
         "##s", "##ing", "##ed", "##er", "##ly", "##y", "##e", "##a", "##t", "##o",
         ".", ",", "!", "?", "'", "-"]
vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
for w in words:
    vocab[w] = len(vocab)
vocab["<mask>"] = len(vocab)
tok = Tokenizer(tm.WordPiece(vocab=vocab, unk_token="<unk>", continuing_subword_prefix="##",
                             max_input_chars_per_word=100))
tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                            strip_accents=None, lowercase=True)
tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
pp = REAL["post_processor"]; assert pp["type"] == "RobertaProcessing"
tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0),
                                                  trim_offsets=True, add_prefix_space=False)
tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
from tokenizers import AddedToken
tok.add_special_tokens([AddedToken("<s>", normalized=False), AddedToken("<pad>", normalized=False),
                        AddedToken("</s>", normalized=False), AddedToken("<unk>", normalized=True),
                        AddedToken("<mask>", lstrip=True, normalized=False)])
tok.save(OUT + '/tokenizer.json')
tok = Tokenizer.from_file(OUT + '/tokenizer.json')
V = tok.get_vocab_size()
enc = tok.encode("the cat sat on the mat.")
print("vocab", V, "ids", enc.ids, enc.tokens)
assert enc.ids[0] == 0 and enc.ids[-1] == 2 and 3 not in enc.ids

# ---- 2. model ----
from transformers import MPNetConfig, MPNetModel
cfg = MPNetConfig(vocab_size=V, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=32, max_position_embeddings=160,
                  relative_attention_num_buckets=32, hidden_act="gelu", layer_norm_eps=1e-5,
                  pad_token_id=1, bos_token_id=0, eos_token_id=2)
torch.manual_seed(0)
model = MPNetModel(cfg)
with torch.no_grad():
    for name, p in model.named_parameters():
        n = torch.randn_like(p)
        if name == "encoder.relative_attention_bias.weight":
            p.copy_(n * 1.0)
        elif "LayerNorm.weight" in name:
            p.copy_(1 + 0.2 * n)
        else:
            p.copy_(n * 0.5)
        print(f"  {name:60s} {tuple(p.shape)}")
model.eval()
try:
    model.save_pretrained(OUT, safe_serialization=True)
except TypeError:
    model.save_pretrained(OUT)
json.dump({"max_seq_length": 128, "do_lower_case": False}, open(OUT + '/sentence_bert_config.json', 'w'))
keep = {"model.safetensors", "config.json", "tokenizer.json", "sentence_bert_config.json", "expected.json"}
for f in os.listdir(OUT):
    if f not in keep:
        print("removing", f); os.remove(os.path.join(OUT, f))
assert json.load(open(OUT + '/config.json'))["model_type"] == "mpnet"

# ---- 3. reference ----
phrase = "the cat sat on the mat and the dog was lazy . "
texts = ["the cat sat on the mat.", "a quick brown fox jumps over the lazy dog", "dog",
         phrase * 8, phrase * 20]
tok = Tokenizer.from_file(OUT + '/tokenizer.json')
tok.enable_truncation(128)   # post-processor-aware: keeps room for <s>, </s>
ref_model = MPNetModel.from_pretrained(OUT).eval().float()
# compare against in-memory params
sd0 = model.state_dict(); sd1 = ref_model.state_dict()
assert all(torch.equal(sd0[k], sd1[k]) for k in sd0)
manual = []
ids_list = []
with torch.no_grad():
    for t in texts:
        ids = tok.encode(t).ids
        assert ids[0] == 0 and ids[-1] == 2 and len(ids) <= 128 and 3 not in ids
        ids_list.append(ids)
        x = torch.tensor([ids])
        h = ref_model(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state[0]
        e = h.mean(0)
        e = e / e.norm().clamp_min(1e-12)
        manual.append(e)
manual = torch.stack(manual)

from sentence_transformers import SentenceTransformer, models
st = SentenceTransformer(modules=[models.Transformer(OUT, max_seq_length=128),
                                  models.Pooling(16, 'mean'), models.Normalize()], device='cpu')
st.eval()
# check ST's tokenization matches
for t, ids in zip(texts, ids_list):
    f = st.tokenize([t])
    st_ids = f["input_ids"][0].tolist()
    assert st_ids == ids, (t, st_ids, ids)
st_emb = torch.stack([torch.tensor(st.encode([t], normalize_embeddings=True, convert_to_numpy=True)[0]) for t in texts])
st_batch = torch.tensor(st.encode(texts, normalize_embeddings=True, convert_to_numpy=True))
d = (st_emb - manual).abs().max().item(); db = (st_batch - manual).abs().max().item()
print("max |ST - manual| =", d, " batched:", db)
assert d < 1e-6 and db < 1e-5
# sanity: relative bias matters
print("lens", [len(i) for i in ids_list])
out = {"sentences": [{"text": t, "ids": ids, "embedding": [float(v) for v in e.tolist()]}
                     for t, ids, e in zip(texts, ids_list, manual)]}
with open(OUT + '/expected.json', 'w') as f:
    f.write(json.dumps(out, indent=1))   # json uses float repr -> full precision
tot = 0
for fn in sorted(os.listdir(OUT)):
    s = os.path.getsize(os.path.join(OUT, fn)); tot += s; print(f"{fn:30s} {s}")
print("total", tot); assert tot < 100_000

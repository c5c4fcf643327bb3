#!/usr/bin/env python3
"""MediaWiki XML dump (.xml or .xml.bz2) -> plain text, standard library only.

Usage: wikitext.py DUMP OUT

Writes, for each article (namespace 0, no ':' in the title, not a redirect, not a
disambiguation page), a line `= Title =`, then its paragraphs one per line, then a
blank line. Markup is stripped with regular expressions, not a full wikitext parser:
comments and <ref>/<math>/<gallery>/... elements are removed with their contents;
internal links are resolved innermost first ([[File:]]/[[Image:]]/[[Category:]] and
interlanguage links dropped, others replaced by their label); templates {{...}} are
then removed innermost first (a few inline ones keep their text: convert, lang,
transl, nowrap, IPA, chem, quote, ...); tables {|...|} are removed (nesting counted);
external links keep their label; the remaining HTML tags are dropped (keeping their
text), bold/italic quotes, list bullets and heading marks removed, entities decoded,
whitespace collapsed. Section headings are kept as plain lines when their section
keeps a paragraph; apparatus sections (References, External links, See also, ...)
are dropped, and so are paragraphs of fewer than 5 words. The output is written
atomically (OUT.part, then rename) and is deterministic.
"""
import bz2
import html
import os
import re
import sys
import xml.etree.ElementTree as ET

MIN_WORDS = 5

# Elements removed together with their contents.
DROP_ELEMENTS = (
    "ref", "references", "math", "chem", "ce", "gallery", "timeline", "imagemap",
    "score", "source", "syntaxhighlight", "graph", "hiero", "templatedata",
    "mapframe", "maplink", "noinclude",
)
# Sections dropped with everything under them (compared case-insensitively).
DROP_SECTIONS = {
    "references", "notes", "footnotes", "citations", "sources", "bibliography",
    "external links", "further reading", "see also", "notes and references",
    "references and notes", "general references", "works cited", "other reading",
    "gallery", "selected bibliography", "primary sources", "secondary sources",
}
DISAMBIG = re.compile(
    r"\{\{\s*(disambig\w*|dab|disamb|geodis|hndis|[a-z ]*disambiguation)\s*[|}]", re.I
)
# Link targets dropped entirely: media, categories, interlanguage/interwiki prefixes.
DROP_LINK = re.compile(
    r"^\s*:?\s*(file|image|media|category|[a-z]{2,3}(-[a-z]+)*|simple)\s*:", re.I
)

COMMENT = re.compile(r"<!--.*?(-->|$)", re.S)
SELF_CLOSING = re.compile(r"<(%s)\b[^<>]*/\s*>" % "|".join(DROP_ELEMENTS), re.I)
PAIRED = re.compile(r"<(%s)\b[^<>]*>.*?</\1\s*>" % "|".join(DROP_ELEMENTS), re.I | re.S)
NOWIKI = re.compile(r"<nowiki\s*>(.*?)</nowiki\s*>|<nowiki\s*/>", re.I | re.S)
TRIPLE_BRACES = re.compile(r"\{\{\{[^{}]*\}\}\}")
# Innermost template: no '{{' or '}}' inside.
TEMPLATE = re.compile(r"\{\{((?:[^{}]|\{(?!\{)|\}(?!\}))*)\}\}")
TABLE_LINE = re.compile(r"^\s*(\{\||\|\})")
# Innermost internal link: no '[[' or ']]' inside.
LINK = re.compile(r"\[\[((?:[^\[\]]|\[(?!\[)|\](?!\]))*)\]\]")
EXT_LINK = re.compile(r"\[(?:https?:|ftp:|mailto:|//)[^\s\]]*(?:\s+([^\]]*))?\]", re.I)
BOLD_ITALIC = re.compile(r"'{2,}")
HEADING = re.compile(r"^(={1,6})\s*(.*?)\s*\1\s*$")
TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*\b[^<>]*/?>")
MAGIC = re.compile(r"__[A-Z]+__")
EMPTY_PARENS = re.compile(r"\(\s*(?:[,;:–—-]\s*)*\)")
PAREN_OPEN_PUNCT = re.compile(r"\(\s*(?:[,;:]\s*)*")
REPEATED_COMMAS = re.compile(r",(?:\s*,)+")
PAREN_PUNCT_CLOSE = re.compile(r"\s*[,;:]\s*\)")
SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)])")
SPACES = re.compile(r"\s+")


def template(m):
    """Replacement for one innermost template: a few inline ones keep their text."""
    parts = [p.strip() for p in m.group(1).split("|")]
    name = parts[0].lower().replace("_", " ")
    args = [p for p in parts[1:] if "=" not in p]
    if name in ("convert", "cvt") and len(args) >= 2:
        # {{convert|5|km|mi}} -> "5 km", {{convert|5|to|8|km}} -> "5 to 8 km"
        if len(args) >= 4 and args[1] in ("to", "-", "–", "and", "or"):
            return "%s %s %s %s" % (args[0], args[1], args[2], args[3])
        return "%s %s" % (args[0], args[1])
    if name in ("lang", "transl") and len(args) >= 2:
        return args[-1]
    if name in ("nowrap", "nobr", "small", "smaller", "big", "sic", "not a typo", "nq",
                "ipa", "em", "strong", "var", "abbr", "keypress") and args:
        return args[0]
    if name in ("quote", "blockquote", "quotation", "cquote", "quote box"):
        pairs = (p.split("=", 1) for p in parts[1:] if "=" in p)
        named = {k.strip().lower(): v for k, v in pairs}
        text = named.get("text", named.get("quote", args[0] if args else ""))
        return "\n\n%s\n\n" % text.strip()
    if name in ("chem", "chem2", "chemf") and args:
        return "".join(args)
    if name.startswith("lang-") and args:
        return args[-1]
    if name in ("'", "' \"", "\" '", "'\"", "\"'"):
        return "'"
    if name in ("ndash", "snd"):
        return " – "
    if name == "mdash":
        return " — "
    return ""


def link(m):
    body = m.group(1)
    target, _, label = body.partition("|")
    if DROP_LINK.match(target):
        return ""
    if "|" in body:
        if label.strip():
            return label  # may hold a template, expanded later
        # pipe trick: [[Paris (France)|]] -> Paris
        return re.sub(r"\s*\(.*?\)\s*$", "", target.split(":")[-1])
    return target.lstrip(":").lstrip("#")


def strip_tables(text):
    """Remove {| ... |} tables (nested), line by line."""
    out, depth = [], 0
    for line in text.split("\n"):
        m = TABLE_LINE.match(line)
        if m:
            if m.group(1) == "{|":
                depth += 1
            elif depth > 0:
                depth -= 1
            continue
        if depth == 0:
            out.append(line)
    return "\n".join(out)


def repeat(pattern, repl, text):
    while True:
        new = pattern.sub(repl, text)
        if new == text:
            return text
        text = new


def clean_inline(s):
    s = EXT_LINK.sub(lambda m: m.group(1) or "", s)
    s = BOLD_ITALIC.sub("", s)
    s = TAG.sub("", s)
    s = html.unescape(s)
    s = SPACES.sub(" ", s).strip()
    # Tidy what removed templates leave behind: "( ; born ...)", "such as , ,", " ."
    s = SPACE_BEFORE_PUNCT.sub(r"\1", s)
    s = REPEATED_COMMAS.sub(",", s)
    s = EMPTY_PARENS.sub("", s)
    s = PAREN_OPEN_PUNCT.sub("(", s)
    s = PAREN_PUNCT_CLOSE.sub(")", s)
    s = SPACE_BEFORE_PUNCT.sub(r"\1", s)
    s = SPACES.sub(" ", s).strip()
    return s


def paragraphs(wikitext):
    t = COMMENT.sub("", wikitext)
    t = NOWIKI.sub(lambda m: html.escape(m.group(1) or "", quote=False), t)
    t = SELF_CLOSING.sub("", t)
    t = PAIRED.sub("", t)
    # Links first, so that a link's '|' is not taken for a template's argument separator.
    t = repeat(LINK, link, t)
    t = repeat(TRIPLE_BRACES, "", t)
    t = repeat(TEMPLATE, template, t)
    t = strip_tables(t)
    t = MAGIC.sub("", t)

    pending_heading = None  # emitted only if its section keeps a paragraph
    skip_level = 0  # > 0 while inside a dropped section of that level
    buf = []
    result = []

    def flush():
        nonlocal pending_heading
        if buf:
            p = clean_inline(" ".join(buf))
            buf.clear()
            if len(p.split()) >= MIN_WORDS and not skip_level:
                if pending_heading:
                    result.append(pending_heading)
                    pending_heading = None
                result.append(p)

    for line in t.split("\n"):
        s = line.strip()
        h = HEADING.match(s)
        if h:
            flush()
            level = len(h.group(1))
            title = clean_inline(h.group(2))
            if skip_level and level <= skip_level:
                skip_level = 0
            if not skip_level and title.lower() in DROP_SECTIONS:
                skip_level = level
            pending_heading = None if skip_level else (title or None)
            continue
        if not s:
            flush()
            continue
        if s[0] in "*#:;":
            flush()
            buf.append(s.lstrip("*#:; "))
            flush()
            continue
        if s[0] in "|!" or s.startswith(("{{", "}}", "[[", "]]")):
            # debris of unbalanced tables/templates/links
            flush()
            continue
        buf.append(s)
    flush()
    return result


def pages(path):
    opener = bz2.open if path.endswith(".bz2") else open
    with opener(path, "rb") as f:
        ns = ""
        for _, el in ET.iterparse(f, events=("end",)):
            tag = el.tag
            if tag.startswith("{"):
                ns, tag = tag[1:].split("}", 1)
                ns = "{%s}" % ns
            if tag != "page":
                continue
            title = el.findtext(ns + "title") or ""
            nsnum = (el.findtext(ns + "ns") or "0").strip()
            redirect = el.find(ns + "redirect") is not None
            text = el.findtext("%srevision/%stext" % (ns, ns)) or ""
            el.clear()
            yield title, nsnum, redirect, text


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: wikitext.py DUMP(.xml|.xml.bz2) OUT")
    src, dst = sys.argv[1:]
    articles = words = 0
    tmp = dst + ".part"
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        for title, nsnum, redirect, text in pages(src):
            if redirect or nsnum != "0" or ":" in title:
                continue
            if text.lstrip()[:9].upper() == "#REDIRECT":
                continue
            if title.endswith("(disambiguation)") or DISAMBIG.search(text):
                continue
            paras = paragraphs(text)
            if not paras:
                continue
            out.write("= %s =\n" % title)
            for p in paras:
                out.write(p + "\n")
            out.write("\n")
            articles += 1
            words += sum(len(p.split()) for p in paras)
    if articles == 0:
        os.unlink(tmp)
        sys.exit("wikitext.py: no articles found in %s" % src)
    os.replace(tmp, dst)
    print("wikitext: %d articles, %d words -> %s" % (articles, words, dst))


if __name__ == "__main__":
    main()

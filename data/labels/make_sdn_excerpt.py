#!/usr/bin/env python3
"""Cut a small, byte-for-byte excerpt out of OFAC's sdn_advanced.xml for cointrail-labels tests.

Usage:
    bunzip2 -k sdn_advanced.xml.bz2
    make_sdn_excerpt.py sdn_advanced.xml > sdn_advanced_2025-11-19_excerpt.xml

What is kept, as the original bytes (the file is sliced at element boundaries, never re-serialised):
  * the XML declaration, the <Sanctions> root start tag and <DateOfIssue>;
  * from <ReferenceValueSets>, only the sets listed in KEEP_SETS (FeatureType is the one the parser
    needs; the others make the excerpt readable);
  * from <DistinctParties> and <SanctionsEntries>, the elements of the selected profiles:
    (a) every profile that has a 'Digital Currency Address - *' feature and a DPRK sanctions
        programme, or whose primary name is 'Lazarus Group';
    (b) the non-DPRK profiles named in EXTRA_NAMES (an exchange, a ransomware actor, ...).
Locations, IDRegDocuments and ProfileRelationships are dropped.
"""
import re
import sys

KEEP_SETS = ("AliasTypeValues", "DocNameStatusValues", "FeatureTypeValues", "PartySubTypeValues",
             "PartyTypeValues", "ScriptValues")
EXTRA_NAMES = ("GARANTEX EUROPE OU", "Khoroshev Dmitry Yuryevich", "Cryptex", "Grinex")


def blocks(text, tag, start, end):
    """Yields (begin, end) offsets of every <tag ...>...</tag> between start and end, including
    the indentation before it and the newline after it."""
    open_re = re.compile(r"[ \t]*<%s[ >]" % tag)
    close = "</%s>" % tag
    pos = start
    while True:
        m = open_re.search(text, pos, end)
        if not m:
            return
        stop = text.index(close, m.end()) + len(close)
        if text[stop:stop + 1] == "\n":
            stop += 1
        yield m.start(), stop
        pos = stop


def section(text, tag):
    begin = text.index("<%s>" % tag)
    return begin, text.index("</%s>" % tag, begin)


def main():
    text = open(sys.argv[1], encoding="utf-8", newline="").read()
    out = []
    head_end = text.index("<ReferenceValueSets>")
    out.append(text[:head_end])
    rvs_begin, rvs_end = section(text, "ReferenceValueSets")
    out.append("<ReferenceValueSets>\n")
    for name in KEEP_SETS:
        b, e = section(text, name)
        line_start = text.rindex("\n", 0, b) + 1
        out.append(text[line_start:e + len("</%s>" % name) + 1])
    out.append("  </ReferenceValueSets>\n")

    features = dict(re.findall(r'<FeatureType ID="(\d+)"[^>]*>Digital Currency Address - ([^<]+)<',
                               text[rvs_begin:rvs_end]))
    se_begin, se_end = section(text, "SanctionsEntries")
    programmes = {}
    entries = []
    for b, e in blocks(text, "SanctionsEntry", se_begin, se_end):
        chunk = text[b:e]
        pid = re.search(r'ProfileID="(\d+)"', chunk).group(1)
        programmes.setdefault(pid, set()).update(re.findall(r"<Comment>([^<]+)</Comment>", chunk))
        entries.append((pid, chunk))

    dp_begin, dp_end = section(text, "DistinctParties")
    keep = set()
    parties = []
    for b, e in blocks(text, "DistinctParty", dp_begin, dp_end):
        chunk = text[b:e]
        pid = re.search(r'<Profile ID="(\d+)"', chunk).group(1)
        primary = re.search(r'<Alias [^>]*Primary="true".*?</Alias>', chunk, re.S)
        name = " ".join(re.findall(r"<NamePartValue [^>]*>([^<]*)<", primary.group(0))) if primary else ""
        has_address = any(f in features for f in re.findall(r'<Feature ID="\d+" FeatureTypeID="(\d+)"', chunk))
        dprk = any(p.startswith("DPRK") for p in programmes.get(pid, ()))
        if (has_address and dprk) or name.startswith("Lazarus Group") \
                or (has_address and any(name.startswith(x) for x in EXTRA_NAMES)):
            keep.add(pid)
        parties.append((pid, chunk))

    out.append("  <DistinctParties>\n")
    out.extend(chunk for pid, chunk in parties if pid in keep)
    out.append("  </DistinctParties>\n  <SanctionsEntries>\n")
    out.extend(chunk for pid, chunk in entries if pid in keep)
    out.append("  </SanctionsEntries>\n</Sanctions>\n")
    sys.stdout.write("".join(out))
    print("kept %d profiles" % len(keep), file=sys.stderr)


if __name__ == "__main__":
    main()

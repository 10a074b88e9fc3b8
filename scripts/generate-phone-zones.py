#!/usr/bin/env python3
"""Writes the phone-prefix -> IANA time zone table that SMS quiet hours use
(Sources/SpoolSMS/Resources/phone_zones.tsv), and the list of NANP area codes the tests check
it against (Tests/SpoolSMSTests/Fixtures/nanp_area_codes.txt).

The data comes from the Python package `phonenumbers`, a port of Google's libphonenumber, which
carries libphonenumber's time-zone map (prefix -> IANA zones) and its numbering metadata:

    python3 -m venv /tmp/pnvenv
    /tmp/pnvenv/bin/pip install phonenumbers regex      # regex: for partial (prefix) pattern matches
    /tmp/pnvenv/bin/python scripts/generate-phone-zones.py \
        Sources/SpoolSMS/Resources/phone_zones.tsv \
        --nanp-fixture Tests/SpoolSMSTests/Fixtures/nanp_area_codes.txt

Output: `#` comment lines, then `prefix<TAB>zone,zone...` per line, where the prefix is the digits
after `+` (country code first). A number's zones are those of its longest matching prefix.

What is changed from libphonenumber's map, and why:
- Entries that say only Etc/Unknown are dropped, and so are zones absent from /usr/share/zoneinfo
  (Spool reads zones from there; each drop is printed).
- libphonenumber looks numbers up in the map only when their type is geographical (fixed line, or
  mobile in the few countries whose mobile numbers are), and answers with the whole country's zones
  otherwise. Spool does not classify numbers, so a prefix under which some number could be of a
  non-geographical type (an Australian mobile under +614 ...) gets the country's zones added: more
  zones mean a narrower sending window, never a text at night. Not in the NANP (+1), where the area
  code is always geographical: toll-free, premium and personal numbers have area codes of their own
  (8xx, 900, 5xx), absent from the map, and a Caribbean mobile is on its island.
- A NANP area code whose zones the map gives only per exchange (208 ...) gets an entry of its own
  with the union of those zones, so that an exchange the map lacks falls back to its area code's
  zones rather than to the zones of all of North America.
- An entry whose zones equal those of its longest shorter prefix is dropped (lookups are unchanged).
"""
import argparse
import datetime
import os
import sys

import phonenumbers
import regex
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata
from phonenumbers.timezone import UNKNOWN_TIMEZONE
from phonenumbers.tzdata import TIMEZONE_DATA

ZONEINFO = "/usr/share/zoneinfo"
# libphonenumber's countries whose mobile numbers are geographical (PhoneNumberUtil.GEO_MOBILE_COUNTRIES).
GEO_MOBILE_COUNTRIES = set(getattr(phonenumbers.phonenumberutil, "_GEO_MOBILE_COUNTRIES", {52, 54, 55, 62, 86}))
NON_GEOGRAPHICAL_DESCS = ["toll_free", "premium_rate", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail"]


def country_code_of(prefix):
    for length in (1, 2, 3):
        if int(prefix[:length]) in COUNTRY_CODE_TO_REGION_CODE:
            return prefix[:length]
    return None


def non_geographical_patterns(cc):
    """National-number patterns of the number types libphonenumber does not locate by prefix."""
    patterns = []
    for region in COUNTRY_CODE_TO_REGION_CODE[int(cc)]:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(int(cc), region)
        if metadata is None:
            continue
        descs = [getattr(metadata, name) for name in NON_GEOGRAPHICAL_DESCS]
        mobile, fixed = metadata.mobile, metadata.fixed_line
        if int(cc) not in GEO_MOBILE_COUNTRIES and mobile is not None and not metadata.same_mobile_and_fixed_line_pattern \
                and (fixed is None or mobile.national_number_pattern != fixed.national_number_pattern):
            descs.append(mobile)
        patterns += [d.national_number_pattern for d in descs if d is not None and d.national_number_pattern]
    return patterns


def could_start(pattern, digits):
    """True when some number fully matching `pattern` starts with `digits`."""
    return digits == "" or regex.fullmatch(pattern, digits, partial=True) is not None


def nanp_area_codes():
    """Area codes of NANP fixed-line and mobile numbers, from the region metadata (not the zone map)."""
    codes = set()
    for region in COUNTRY_CODE_TO_REGION_CODE[1]:
        metadata = PhoneMetadata.metadata_for_region(region)
        for desc in (metadata.fixed_line, metadata.mobile):
            if desc is not None and desc.national_number_pattern:
                codes.update(str(a) for a in range(200, 1000) if could_start(desc.national_number_pattern, str(a)))
    return sorted(codes)


def longest_shorter(table, prefix):
    for length in range(len(prefix) - 1, 0, -1):
        if prefix[:length] in table:
            return prefix[:length]
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", help="where to write the prefix<TAB>zones table")
    parser.add_argument("--nanp-fixture", help="also write the NANP area codes (one per line) here")
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="date for the header (default today)")
    args = parser.parse_args()
    version = phonenumbers.__version__

    table = {}
    dropped_zones, dropped_prefixes = {}, []
    for prefix, zones in TIMEZONE_DATA.items():
        kept = []
        for zone in zones:
            if zone == UNKNOWN_TIMEZONE:
                continue
            if not os.path.isfile(os.path.join(ZONEINFO, zone)):
                dropped_zones.setdefault(zone, []).append(prefix)
                continue
            kept.append(zone)
        if kept:
            table[prefix] = set(kept)
        else:
            dropped_prefixes.append(prefix)

    def country_zones(cc):
        if cc in table:
            return table[cc]
        return set().union(*[z for p, z in table.items() if p.startswith(cc)])

    widened = {}
    patterns_by_cc = {}
    for prefix in sorted(table):
        cc = country_code_of(prefix)
        if cc is None or prefix == cc or cc == "1":
            continue
        if cc not in patterns_by_cc:
            patterns_by_cc[cc] = non_geographical_patterns(cc)
        national = prefix[len(cc):]
        if any(could_start(p, national) for p in patterns_by_cc[cc]):
            extra = country_zones(cc) - table[prefix]
            if extra:
                table[prefix] = table[prefix] | extra
                widened.setdefault(cc, []).append(prefix)

    area_codes = nanp_area_codes()
    synthesized = []
    for area in area_codes:
        key = "1" + area
        if key not in table:
            under = [z for p, z in table.items() if p.startswith(key)]
            if under:
                table[key] = set().union(*under)
                synthesized.append(key)

    pruned = 0
    for prefix in sorted(table, key=len):
        parent = longest_shorter(table, prefix)
        if parent is not None and table[parent] == table[prefix]:
            del table[prefix]
            pruned += 1

    with open(args.output, "w") as out:
        out.write(f"# Phone prefix (digits after +) -> IANA time zones; a number takes its longest matching prefix.\n")
        out.write(f"# Source: libphonenumber's time-zone map as shipped in the Python package phonenumbers {version}, "
                  f"generated {args.date} by scripts/generate-phone-zones.py (see it for the changes made to the map).\n")
        out.write(f"# {len(table)} prefixes.\n")
        for prefix in sorted(table, key=lambda p: (len(p), p)):
            out.write(f"{prefix}\t{','.join(sorted(table[prefix]))}\n")

    if args.nanp_fixture:
        with open(args.nanp_fixture, "w") as out:
            out.write("# NANP (+1) area codes of fixed-line and mobile numbers, from the numbering metadata of the regions\n")
            out.write(f"# {', '.join(COUNTRY_CODE_TO_REGION_CODE[1])}\n")
            out.write(f"# (not from the time-zone map), in the Python package phonenumbers {version}, "
                      f"generated {args.date} by scripts/generate-phone-zones.py.\n")
            for area in area_codes:
                out.write(area + "\n")

    print(f"phonenumbers {version}: {len(TIMEZONE_DATA)} prefixes in libphonenumber's map, {len(table)} written to {args.output}", file=sys.stderr)
    print(f"  dropped zones not under {ZONEINFO}: {', '.join(f'{z} ({len(p)} prefixes)' for z, p in sorted(dropped_zones.items())) or 'none'}", file=sys.stderr)
    print(f"  dropped prefixes left with no zone (Etc/Unknown or missing zones only): {len(dropped_prefixes)}", file=sys.stderr)
    print(f"  widened to the country's zones (non-geographical numbers possible): "
          f"{sum(len(p) for p in widened.values())} prefixes in {', '.join('+' + cc for cc in sorted(widened, key=int)) or 'none'}", file=sys.stderr)
    print(f"  NANP area-code entries made from their exchanges' zones: {', '.join(synthesized) or 'none'}", file=sys.stderr)
    print(f"  dropped as equal to a shorter prefix: {pruned}", file=sys.stderr)
    if args.nanp_fixture:
        print(f"  {len(area_codes)} NANP area codes written to {args.nanp_fixture}", file=sys.stderr)


if __name__ == "__main__":
    main()

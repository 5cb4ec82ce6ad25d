#!/usr/bin/env python3
"""Recompute one item's dynamo-history chain (hash format 2), standard library only.

Input: the item's history partition as the AWS CLI prints it, for example
  aws dynamodb query --table-name dynamo-history-prod-history \
    --key-condition-expression 'itemKey = :k' \
    --expression-attribute-values '{":k":{"S":"order-1"}}' --consistent-read > order-1.json
  python3 verify-chain.py order-1.json

Each record's hash is SHA-256 of the RFC 8785 (JCS) form of the stored item in
DynamoDB JSON, without `hash` and `expiresAt`, with set members sorted, and with
`version` as the record's own version key: a chain's first record is kept at the
start slot (`version = "!chain"`) until retention moves it to its version, and is
hashed as if it were there. Exit 0 when every record matches its hash and links to
the one before, 1 otherwise.
"""
import hashlib
import json
import sys

GENESIS = "0" * 64
UNHASHED = {"hash", "expiresAt"}


def utf16_key(text):
    # RFC 8785 orders object members by their names' UTF-16 code units.
    return text.encode("utf-16-be")


def jcs(value):
    # Only strings, booleans, lists and objects occur: DynamoDB JSON keeps numbers as strings.
    if isinstance(value, dict):
        members = sorted(value.items(), key=lambda kv: utf16_key(kv[0]))
        return "{" + ",".join(jcs(k) + ":" + jcs(v) for k, v in members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def canonical(value):
    # Set members in a fixed order (DynamoDB returns sets in none); maps and lists recursively.
    (tag, inner), = value.items()
    if tag in ("SS", "NS", "BS"):
        return {tag: sorted(inner, key=utf16_key)}
    if tag == "M":
        return {"M": {k: canonical(v) for k, v in inner.items()}}
    if tag == "L":
        return {"L": [canonical(v) for v in inner]}
    return {tag: inner}


def version_key(number):
    # The sort key of a version: v0003, and past 9999 a length letter (va10000, vb100000, ...).
    digits = str(number)
    if len(digits) <= 4:
        return "v" + digits.zfill(4)
    return "v" + chr(ord("a") + len(digits) - 5) + digits


def record_hash(item):
    body = {k: canonical(v) for k, v in item.items() if k not in UNHASHED}
    body["version"] = {"S": version_key(int(item["versionNumber"]["N"]))}
    return hashlib.sha256(jcs(body).encode("utf-8")).hexdigest()


def main(path):
    with open(path, encoding="utf-8") as f:
        items = json.load(f)["Items"]
    # Every record (a bare chain marker at the start slot has no hash), oldest first.
    records = sorted((i for i in items if "hash" in i), key=lambda i: int(i["versionNumber"]["N"]))
    problems = 0
    link = None
    for item in records:
        version = version_key(int(item["versionNumber"]["N"]))
        if item.get("format", {}).get("N") != "2":
            print(f"{version}: hash format 1, not checked by this script")
            link = item["hash"]["S"]
            continue
        if record_hash(item) != item["hash"]["S"]:
            print(f"{version}: content does not match its hash")
            problems += 1
        if link is not None and item["prevHash"]["S"] != link:
            print(f"{version}: does not link to the record before it")
            problems += 1
        if link is None and item["prevHash"]["S"] != GENESIS:
            print(f"{version}: the chain starts after earlier records (expired or missing)")
        link = item["hash"]["S"]
    print(f"{len(records)} record(s), {problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

#!/usr/bin/env python3
"""Generate tests/data/pii_holdout.jsonl, a held-out labelled PII/secret corpus.

This corpus is meant to measure a detector that was tuned on a *different*
corpus (tests/data/pii_corpus.jsonl). It was written without looking at the
detector or at that corpus, and deliberately uses another style: messy, realistic
chatbot inputs (CSV rows, JSON, stack traces, Markdown tables, e-mail
signatures, timestamped chat logs, config files, SQL, shell history, German /
French / Spanish sentences) with values in awkward positions (inside quotes or
brackets, after a colon without a space, at the very start or end of the text,
next to punctuation).

Each line is one JSON object::

    {"id": "ho-001", "category": "positive" | "hard_negative" | "split",
     "text": "...", "entities": [{"type": "EMAIL_ADDRESS", "value": "..."}],
     "chunks": [...]}          # "chunks" only for category "split"

* ``entities`` lists every sensitive value as an exact substring of ``text``;
  each value occurs exactly once in its text. Hard negatives have none.
* ``chunks`` (split texts only) are 2-6 pieces that join to ``text``, with at
  least one labelled value cut across a chunk boundary (streaming case).
* Types: EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, IP_ADDRESS,
  US_SSN, SECRET.

Labelling conventions:

* CREDIT_CARD values are Luhn-valid with a real brand prefix/length.
* IBAN_CODE values pass mod-97 and have the right length for their country.
* PHONE_NUMBER values are ones that libphonenumber accepts as valid numbers
  (parsed with region None when written with "+", else with the country's
  region). The script therefore imports the third-party ``phonenumbers``
  package and must be run with the project's virtualenv::

      .venv/bin/python tests/data/make_pii_holdout.py           # write the file
      .venv/bin/python tests/data/make_pii_holdout.py --check   # exit 1 if stale

  Everything else is the standard library; the output is fully determined by
  the fixed seed below.
* SECRET covers API keys/tokens of known shapes; for AWS secret access keys
  only the 40-character value after ``aws_secret_access_key`` is labelled, for
  ``Authorization: Bearer`` headers only the token, for PEM private keys the
  whole BEGIN ... END block.
* Passwords, BICs, account ids, public keys, certificates, hashes, MAC
  addresses and masked/redacted values are not labelled (they are not in the
  type list); texts avoid unlabelled borderline values where possible.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import ipaddress
import json
import random
import re
import string
import sys
import uuid
from pathlib import Path

import phonenumbers

SEED = 20240917
OUT = Path(__file__).resolve().parent / "pii_holdout.jsonl"

TYPES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "SECRET",
)

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
B64URL = ALNUM + "-_"


# --------------------------------------------------------------------------
# checksums / validators (also used by the assertions at the end)
# --------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        x = int(ch)
        if i % 2 == 1:
            x *= 2
            if x > 9:
                x -= 9
        total += x
    return total % 10 == 0


IBAN_LENGTHS = {
    "DE": 22, "GB": 22, "FR": 27, "ES": 24, "NL": 18, "IT": 27,
    "CH": 21, "BE": 16, "AT": 20, "PL": 28, "SE": 24,
}

# BBAN layout: (count, kind) with kind n=digit, a=upper letter, c=upper alnum
IBAN_BBAN = {
    "DE": [(18, "n")],
    "GB": [(4, "bank"), (14, "n")],
    "FR": [(10, "n"), (11, "c"), (2, "n")],
    "ES": [(20, "n")],
    "NL": [(4, "bank"), (10, "n")],
    "IT": [(1, "a"), (10, "n"), (12, "c")],
    "CH": [(5, "n"), (12, "c")],
    "BE": [(12, "n")],
    "AT": [(16, "n")],
    "PL": [(24, "n")],
    "SE": [(20, "n")],
}
BANK_CODES = {"GB": ["NWBK", "BARC", "LOYD", "HBUK", "MIDL"], "NL": ["ABNA", "INGB", "RABO", "TRIO", "SNSB"]}


def iban_mod97(compact: str) -> int:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97


def iban_valid(value: str) -> bool:
    compact = value.replace(" ", "")
    cc = compact[:2]
    return (
        cc in IBAN_LENGTHS
        and len(compact) == IBAN_LENGTHS[cc]
        and compact[2:4].isdigit()
        and compact.isalnum()
        and compact.upper() == compact
        and iban_mod97(compact) == 1
    )


SSN_BLACKLIST = {"123456789", "078051120", "219099999", "457555462", "987654321"}


def ssn_valid(value: str) -> bool:
    m = re.fullmatch(r"(\d{3})([- ])(\d{2})\2(\d{4})", value)
    if not m:
        return False
    area, group, serial = m.group(1), m.group(3), m.group(4)
    digits = area + group + serial
    a = int(area)
    return (
        (1 <= a <= 665 or 667 <= a <= 899)
        and group != "00"
        and serial != "0000"
        and len(set(digits)) > 1
        and digits not in SSN_BLACKLIST
    )


def card_brand(digits: str) -> str | None:
    n = len(digits)
    if digits[0] == "4" and n in (13, 16):
        return "visa"
    if n == 16 and (51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720):
        return "mastercard"
    if n == 15 and digits[:2] in ("34", "37"):
        return "amex"
    if n == 16 and (digits.startswith("6011") or digits.startswith("65")):
        return "discover"
    if n == 16 and 3528 <= int(digits[:4]) <= 3589:
        return "jcb"
    return None


def has_card_window(text: str) -> bool:
    """True if any run of digits in text contains a Luhn-valid, brand-shaped card number."""
    digits = re.sub(r"\D", "", text)
    return any(
        card_brand(digits[i:i + n]) and luhn_ok(digits[i:i + n])
        for n in (13, 15, 16) for i in range(len(digits) - n + 1)
    )


def card_valid(value: str) -> bool:
    if not re.fullmatch(r"\d+(?:[ -]\d+)*", value):
        return False
    seps = set(re.findall(r"[ -]", value))
    if len(seps) > 1:
        return False
    digits = re.sub(r"[ -]", "", value)
    return card_brand(digits) is not None and luhn_ok(digits)


def phone_valid(value: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(value, region))
    except phonenumbers.NumberParseException:
        return False


# --------------------------------------------------------------------------
# phone pool: (text as written, region used to parse it)
# --------------------------------------------------------------------------

PHONES = [
    # US / Canada
    ("(415) 823-7741", "US"), ("646.392.1180", "US"), ("+1-617-253-9021", None),
    ("206 812 4490", "US"), ("+1 713 529 6634", None), ("404-931-7052", "US"),
    ("+1 (312) 823-4467", None), ("(503) 946-2218", "US"), ("720-418-3365", "US"),
    ("+1.512.647.8821", None), ("2128394471", "US"), ("+14157842290", None),
    ("1 (888) 724-3901", "US"), ("773-682-0194", "US"), ("(919) 457-3382", "US"),
    ("+1 416 979 2233", None), ("+12065498813", None), ("1-877-384-2209", "US"),
    ("(617) 491-0385", "US"), ("305 672 1148", "US"), ("+1 (202) 730-4419", None),
    # United Kingdom / Ireland
    ("+44 7911 123456", None), ("07946 221873", "GB"), ("+44 20 7183 4429", None),
    ("020 3318 7742", "GB"), ("+44 (0)161 832 4410", None), ("0117 927 3365", "GB"),
    ("+44 7480 612933", None), ("07723 448190", "GB"), ("+447825319064", None),
    ("0131 225 7784", "GB"), ("+353 1 671 2345", None), ("+353 87 123 4567", None),
    # Germany / Austria / Switzerland
    ("+49 (0)30 8827 4419", None), ("030 25793311", "DE"), ("0171 4829365", "DE"),
    ("+49 152 28841937", None), ("089 2109 4321", "DE"), ("+49 40 3698 2210", None),
    ("0221/4789123", "DE"), ("06221 543322", "DE"), ("+49 176 31829047", None),
    ("0711 2284 9910", "DE"), ("+4915901827364", None), ("+49 211 8753 220", None),
    ("0160 93847261", "DE"), ("+49 6131 39 22810", None), ("0351 4862117", "DE"),
    ("+43 1 5134455", None),
    ("+41 44 668 18 00", None),
    # France
    ("+33 6 48 27 19 53", None), ("06 71 22 84 90", "FR"), ("01 42 68 53 00", "FR"),
    ("+33 (0)4 78 42 17 90", None), ("+33745128806", None), ("07.81.45.22.10", "FR"),
    ("05 56 48 12 09", "FR"), ("+33 1 44 55 66 71", None), ("+33 6 01 92 77 35", None),
    ("09 72 41 18 66", "FR"), ("03.88.21.47.90", "FR"),
    # Spain
    ("+34 622 48 19 07", None), ("915 284 377", "ES"), ("+34 93 412 77 30", None),
    ("655 21 89 04", "ES"), ("+34-678-901-234", None), ("+34 954 22 81 63", None),
    ("699 134 522", "ES"), ("+34 611 502 873", None), ("958 24 31 77", "ES"),
    # elsewhere
    ("+61 2 9374 4000", None), ("+61 412 345 678", None), ("+91 22 2778 0000", None),
    ("+91 98201 23456", None), ("+39 06 6982 1234", None), ("+39 347 812 4456", None),
    ("+39 02 8736 4410", None), ("335 612 0987", "IT"),
    ("+31 20 794 1234", None), ("+31 6 12345678", None), ("+81 3-1234-5678", None),
    ("+55 11 98765-4321", None), ("+48 22 123 45 67", None), ("+46 8 123 456 78", None),
    ("+32 2 511 21 34", None), ("+52 55 1234 5678", None),
]


def _phone_tags(text: str, region: str | None) -> set[str]:
    num = phonenumbers.parse(text, region)
    country = (phonenumbers.region_code_for_number(num) or "").lower()
    tags = {country, "any"}
    if text.startswith("+"):
        tags.add("intl")
    if re.fullmatch(r"\+\d{8,15}", text):
        tags.add("e164")
    return tags


# --------------------------------------------------------------------------
# value generators
# --------------------------------------------------------------------------

FIRSTS = [
    "anna", "jonas", "maria", "luca", "sofia", "mateo", "elodie", "kenji", "priya",
    "omar", "hannah", "lukas", "chloe", "diego", "fatima", "noah", "ines", "tobias",
    "yuki", "camille", "rafael", "greta", "samir", "olivia", "pablo", "lea", "marcus",
    "aisha", "henrik", "zoe", "wendy", "kevin", "lucia", "jana", "tim", "sean",
]
LASTS = [
    "mueller", "garcia", "dubois", "rossi", "nakamura", "raman", "schmidt", "lopez",
    "martin", "kowalski", "novak", "oconnor", "fernandez", "weber", "leroy", "santos",
    "jensen", "haddad", "kim", "becker", "moreau", "ortega", "fischer", "bianchi",
    "silva", "meyer", "nguyen", "petrov", "lindqvist", "brandt", "cho", "whitfield",
]
DOMAINS = [
    "gmail.com", "outlook.com", "gmx.de", "web.de", "t-online.de", "orange.fr",
    "laposte.net", "free.fr", "telefonica.es", "yahoo.es", "proton.me", "icloud.com",
    "hotmail.co.uk", "btinternet.com", "uni-hamburg.de", "acme-corp.com",
    "mail.acme-corp.com", "northwind-logistics.com", "k8s-ops.net", "247-support.io",
    "dev4you.dev", "bank-nord24.de", "example-mail.de", "stadtwerke-ulm.de",
    "muller-sohne.de", "groupe-lumiere.fr", "empresa-iberica.es",
    "eu.mail.contoso-group.com", "hr.globex-inc.com", "x3-labs.ai", "mail2.fastpay-eu.com",
]
ROLES = ["billing", "support", "ops-alerts", "no-reply", "hr", "team.eu", "facturacion",
         "buchhaltung", "contact", "security", "it-helpdesk", "payroll"]
PLUS_TAGS = ["newsletter", "shop", "github", "2024", "receipts", "travel"]


class Gen:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()
        self.phone_pool = [(t, r, _phone_tags(t, r)) for t, r in PHONES]
        for t, r, _ in self.phone_pool:
            assert phone_valid(t, r), f"invalid phone in pool: {t!r} ({r})"

    # helpers ----------------------------------------------------------------
    def rs(self, n: int, alphabet: str = ALNUM) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def fresh(self, make):
        for _ in range(1000):
            v = make()
            if v not in self.used:
                self.used.add(v)
                return v
        raise RuntimeError("could not make a fresh value")

    # EMAIL_ADDRESS -------------------------------------------------------------
    def email(self, variant: str = "") -> str:
        def make():
            r = self.rng
            f, l = r.choice(FIRSTS), r.choice(LASTS)
            nn = str(r.randint(2, 99))
            style = r.randrange(11)
            local = [
                f"{f}.{l}", f"{f[0]}.{l}", f"{f}{l}{nn}", f"{f}_{l}", f"{f}-{l}",
                f"{l}.{f}", f"{f}{nn}", f"{f[0]}{l}", f"{f}.{l}{r.randint(1, 9)}",
                r.choice(ROLES), f"{f}.{l}",
            ][style]
            if variant == "plus":
                local = f"{f}.{l}+{r.choice(PLUS_TAGS)}"
            dom = r.choice(DOMAINS)
            v = f"{local}@{dom}"
            if variant == "upper":
                v = v.upper()
            elif style == 10:
                v = f"{f.title()}.{l.title()}@{dom}"
            return v

        return self.fresh(make)

    # PHONE_NUMBER --------------------------------------------------------------
    def phone(self, tag: str = "any") -> str:
        cands = [t for t, _, tags in self.phone_pool if tag in tags and t not in self.used]
        assert cands, f"phone pool exhausted for tag {tag!r}"
        v = self.rng.choice(cands)
        self.used.add(v)
        return v

    # CREDIT_CARD ---------------------------------------------------------------
    def _card_digits(self, brand: str, valid: bool = True) -> str:
        r = self.rng
        prefix, length = {
            "visa16": (lambda: "4", 16),
            "visa13": (lambda: "4", 13),
            "mc": (lambda: str(r.randint(51, 55)), 16),
            "mc2": (lambda: str(r.randint(2221, 2720)), 16),
            "amex": (lambda: r.choice(["34", "37"]), 15),
            "discover": (lambda: r.choice(["6011", "65"]), 16),
            "jcb": (lambda: str(r.randint(3528, 3589)), 16),
        }[brand]
        body = prefix()
        body += self.digits(length - 1 - len(body))
        for check in "0123456789":
            if luhn_ok(body + check) == valid:
                return body + check
        raise AssertionError

    def _fmt_card(self, d: str, style: str) -> str:
        if style == "plain":
            return d
        sep = " " if style == "sp" else "-"
        groups = {15: [4, 6, 5], 13: [4, 3, 3, 3]}.get(len(d), [4, 4, 4, 4])
        out, i = [], 0
        for g in groups:
            out.append(d[i:i + g])
            i += g
        return sep.join(out)

    def card(self, brand: str = "", style: str = "") -> str:
        def make():
            b = brand or self.rng.choice(["visa16", "visa16", "mc", "mc2", "amex", "discover", "jcb", "visa13"])
            s = style or self.rng.choice(["plain", "sp", "dash"])
            return self._fmt_card(self._card_digits(b), s)

        return self.fresh(make)

    def luhnfail(self, style: str = "sp") -> str:
        b = self.rng.choice(["visa16", "mc", "discover"])
        return self._fmt_card(self._card_digits(b, valid=False), style)

    # IBAN_CODE -------------------------------------------------------------------
    def _bban(self, cc: str) -> str:
        out = []
        for count, kind in IBAN_BBAN[cc]:
            if kind == "n":
                out.append(self.digits(count))
            elif kind == "a":
                out.append(self.rs(count, string.ascii_uppercase))
            elif kind == "bank":
                out.append(self.rng.choice(BANK_CODES[cc]))
            else:  # mostly digits, sometimes letters, as in real FR/IT/CH accounts
                out.append("".join(
                    self.rng.choice(string.ascii_uppercase) if self.rng.random() < 0.15
                    else self.rng.choice(string.digits) for _ in range(count)))
        return "".join(out)

    @staticmethod
    def _group4(s: str) -> str:
        return " ".join(s[i:i + 4] for i in range(0, len(s), 4))

    def iban(self, cc: str = "", style: str = "") -> str:
        def make():
            c = cc or self.rng.choice(sorted(IBAN_LENGTHS))
            bban = self._bban(c)
            check = 98 - iban_mod97(c + "00" + bban)
            compact = f"{c}{check:02d}{bban}"
            assert len(compact) == IBAN_LENGTHS[c] and iban_mod97(compact) == 1
            s = style or self.rng.choice(["compact", "grouped"])
            return compact if s == "compact" else self._group4(compact)

        return self.fresh(make)

    def ibanbad(self, cc: str = "DE", style: str = "grouped") -> str:
        while True:  # avoid digit runs that also look like a valid card number
            bban = self._bban(cc)
            good = 98 - iban_mod97(cc + "00" + bban)
            bad = good + self.rng.choice([-3, -2, -1, 1, 2, 3, 11])
            if not 2 <= bad <= 96:
                bad = good - 5 if good > 10 else good + 5
            compact = f"{cc}{bad:02d}{bban}"
            if not has_card_window(compact):
                break
        assert not iban_valid(compact)
        return compact if style == "compact" else self._group4(compact)

    # IP_ADDRESS -------------------------------------------------------------------
    def ip(self, kind: str = "", case: str = "") -> str:
        r = self.rng

        def make():
            k = kind or r.choice(["pub", "priv", "v6"])
            if k == "pub":
                first = r.choice([23, 31, 45, 52, 54, 62, 77, 81, 85, 91, 93, 104, 109, 134,
                                  141, 151, 158, 176, 185, 188, 193, 195, 203, 212, 213, 217])
                return f"{first}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
            if k == "priv":
                f = r.randrange(3)
                if f == 0:
                    return f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
                if f == 1:
                    return f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}"
                return f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
            prefix = r.choice(["2001:db8", "2a02:8106", "2600:1f18", "2a01:4f8", "fd12:3456", "fe80:0", "2003:e2"])
            groups = [int(g, 16) for g in prefix.split(":")]
            while len(groups) < 8:
                roll = r.random()
                groups.append(0 if roll < 0.25 else r.randint(1, 0xFFFF) if roll < 0.85 else r.randint(1, 0xFF))
            if prefix == "fe80:0":
                groups[2:4] = [0, 0]
            addr = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
            v = addr.exploded if k == "v6full" else addr.compressed
            return v.upper() if case == "upper" else v

        return self.fresh(make)

    # US_SSN ------------------------------------------------------------------------
    def ssn(self, style: str = "") -> str:
        def make():
            r = self.rng
            while True:
                area = r.choice([r.randint(1, 665), r.randint(667, 899)])
                v = f"{area:03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"
                if ssn_valid(v):
                    break
            s = style or r.choice(["dash", "dash", "space"])
            return v if s == "dash" else v.replace("-", " ")

        return self.fresh(make)

    # SECRET -------------------------------------------------------------------------
    def _b64u(self, b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    def _rbytes(self, n: int) -> bytes:
        return bytes(self.rng.getrandbits(8) for _ in range(n))

    def jwt(self) -> str:
        r = self.rng
        alg = r.choice(["HS256", "HS256", "ES256", "HS512"])
        header = r.choice([
            {"alg": alg, "typ": "JWT"},
            {"typ": "JWT", "alg": alg},
            {"alg": alg, "kid": self.rs(8, "0123456789abcdef"), "typ": "JWT"},
        ])
        iat = r.randint(1_700_000_000, 1_730_000_000)
        payload = {"sub": r.choice([str(r.randint(10_000, 99_999_999)), str(uuid.UUID(int=r.getrandbits(128), version=4))]),
                   "iat": iat, "exp": iat + r.choice([900, 3600, 86400])}
        if r.random() < 0.5:
            payload["scope"] = r.choice(["read:orders", "openid profile", "admin", "chat:write"])
        if r.random() < 0.4:
            payload["iss"] = r.choice(["https://auth.acme.io/", "gateway", "https://login.contoso-group.com"])
        sig_len = 32 if alg == "HS256" else 64
        enc = lambda o: self._b64u(json.dumps(o, separators=(",", ":")).encode())
        return f"{enc(header)}.{enc(payload)}.{self._b64u(self._rbytes(sig_len))}"

    PEM_KINDS = {
        "rsa": ("RSA PRIVATE KEY", bytes.fromhex("308204a40201000282010100"), 64),
        "pkcs8": ("PRIVATE KEY", bytes.fromhex("308204bd020100300d06092a864886f70d0101010500"), 64),
        "ec": ("EC PRIVATE KEY", bytes.fromhex("30770201010420"), 64),
        "openssh": ("OPENSSH PRIVATE KEY", b"openssh-key-v1\x00\x00\x00\x00\x04none\x00\x00\x00\x04none", 70),
        "enc": ("ENCRYPTED PRIVATE KEY", bytes.fromhex("308205363060"), 64),
        # not secrets: used only by hard negatives
        "pub": ("PUBLIC KEY", bytes.fromhex("30820122300d06092a864886f70d01010105000382010f00"), 64),
        "cert": ("CERTIFICATE", bytes.fromhex("308203e7308202cfa003020102"), 64),
    }

    def pem(self, kind: str = "rsa", layout: str = "") -> str:
        label, prefix, width = self.PEM_KINDS[kind]
        lines = {"ec": 3, "openssh": 6}.get(kind, self.rng.randint(6, 9))
        nbytes = (lines * width * 3) // 4 - self.rng.randint(5, 20)
        if kind == "ec":
            nbytes = 121
        body = base64.b64encode(prefix + self._rbytes(nbytes - len(prefix))).decode()
        rows = [body[i:i + width] for i in range(0, len(body), width)]
        parts = [f"-----BEGIN {label}-----", *rows, f"-----END {label}-----"]
        sep = {"esc": "\\n", "indent": "\n    "}.get(layout, "\n")
        return sep.join(parts)

    def secret(self, kind: str, arg: str = "") -> str:
        r = self.rng

        def make():
            if kind == "sk":
                return "sk-" + self.rs(20) + "T3BlbkFJ" + self.rs(20)
            if kind == "skproj":
                n = r.choice([48, 64, 74])
                return "sk-proj-" + self.rs(n, B64URL) + "T3BlbkFJ" + self.rs(n, B64URL)
            if kind == "ant":
                return "sk-ant-api03-" + self.rs(93, B64URL) + "AA"
            if kind in ("akia", "asia"):
                return kind.upper() + self.rs(16, UPPER_ALNUM)
            if kind == "awssecret":
                return self.rs(40, ALNUM + "/+")
            if kind == "ghp":
                return "ghp_" + self.rs(36)
            if kind == "ghpat":
                return "github_pat_" + self.rs(22) + "_" + self.rs(59)
            if kind == "xoxb":
                return f"xoxb-{self.digits(12)}-{self.digits(13)}-{self.rs(24)}"
            if kind == "aiza":
                return "AIza" + self.rs(35, B64URL)
            if kind == "jwt":
                return self.jwt()
            if kind == "bearer":
                style = r.randrange(3)
                if style == 0:
                    return self.rs(40)
                if style == 1:
                    return "ya29." + self.rs(72, B64URL)
                return self.rs(48, ALNUM + "._~-")
            if kind == "pem":
                return self.pem(arg or "rsa")
            if kind == "pemesc":
                return self.pem(arg or "pkcs8", "esc")
            if kind == "pemindent":
                return self.pem(arg or "ec", "indent")
            raise KeyError(kind)

        return self.fresh(make)

    # non-entities for hard negatives ---------------------------------------------------
    def neg(self, kind: str, *args: str) -> str:
        r = self.rng
        if kind == "luhnfail":
            return self.luhnfail(*args)
        if kind == "ibanbad":
            return self.ibanbad(*args)
        if kind == "uuid":
            return str(uuid.UUID(int=r.getrandbits(128), version=4))
        if kind == "sha256":
            return hashlib.sha256(self._rbytes(16)).hexdigest()
        if kind == "sha1":
            return hashlib.sha1(self._rbytes(16)).hexdigest()
        if kind == "md5":
            return hashlib.md5(self._rbytes(16)).hexdigest()
        if kind == "hex":
            return self.rs(int(args[0]), "0123456789abcdef")
        if kind == "pem":
            return self.pem(args[0])
        raise KeyError(kind)


# --------------------------------------------------------------------------
# templates
#   <%kind:arg:arg%>   labelled value       <%!kind...%>  labelled, cut in split
#   <%n:kind:arg%>     unlabelled filler (hard negatives)
# --------------------------------------------------------------------------

POSITIVE = [
    # ---- CSV ---------------------------------------------------------------
    'id,name,email,phone\n1042,Jürgen Weiß,<%email%>,<%phone:de%>\n1043,Ana López,<%email%>,"<%phone:es%>"\nplease dedupe by email and normalise the phone column',
    "kundennr;iban;bic;betrag\n88213;<%iban:DE:compact%>;COBADEFFXXX;1.250,00\n88214;<%iban:AT:compact%>;BKAUATWWXXX;980,50\nWarum lehnt SEPA die zweite Zeile ab?",
    "txn_id,card_number,exp,amount\nT-99812,<%card:visa16:plain%>,09/27,49.99\nT-99813,<%card:mc:plain%>,11/26,120.00\nwhy does the import reject row 2?",
    "first,last,ssn,dob\nMarcus,Hale,<%ssn:dash%>,1987-04-12\nDenise,Ortiz,<%ssn:dash%>,1979-11-30\nconvert this to a pandas DataFrame and mask the ssn column",
    "timestamp,src_ip,dst_ip,bytes\n2024-05-01T10:22:13Z,<%ip:priv%>,<%ip:pub%>,5321\n2024-05-01T10:22:14Z,<%ip:priv%>,<%ip:pub%>,88\nwhich src sends the most bytes?",
    '"Nguyen, Thi",<%email%>,"<%phone:us%>","Portland, OR"\n"O\'Brien, Sean",<%email%>,"<%phone:ie%>","Dublin"',
    "<%ssn:dash%>,WALKER,ROBERT,1962-02-28,M\n<%ssn:dash%>,PRICE,ALMA,1971-09-14,F",
    "sku,qty,buyer_email,ship_ip\nA-100,2,<%email%>,<%ip:v6%>\nB-220,1,<%email%>,<%ip:pub%>",
    # ---- JSON ----------------------------------------------------------------
    'POST /v1/signup returned 422 for this body: {"user":{"email":"<%email%>","phone":"<%phone:intl%>"},"plan":"pro","seats":12}',
    '{"aws_access_key_id":"<%secret:akia%>","aws_secret_access_key":"<%secret:awssecret%>","region":"eu-central-1"} <- is this the right shape for boto3?',
    '{"payment":{"pan":"<%card:amex:sp%>","cvc":"***","holder":"K. Nakamura"},"client_ip":"<%ip:pub%>"}',
    '{"applicant":{"name":"J. Whitfield","ssn":"<%ssn:dash%>","dob":"1990-07-04"},"consent":true}',
    '{"creditor":{"name":"Wiener Stadtwerke","iban":"<%iban:AT:grouped%>"},"amount":{"value":"89.90","currency":"EUR"}}',
    '{"card_number": <%card:visa16:plain%>, "cvv": null, "exp": "2027-01"}  // API says card_number must be a string?',
    '{"type": "service_account", "project_id": "acme-prod", "private_key_id": "3f9b1c0d", "private_key": "<%secret:pemesc:pkcs8%>\\n", "token_uri": "https://oauth2.googleapis.com/token"}',
    '[{"host":"<%ip:v6full%>","port":5432},{"host":"<%ip:priv%>","port":6379}]',
    '{"contacts":[{"n":"Ines","tel":"<%phone:fr%>"},{"n":"Rafael","tel":"<%phone:es%>"}]}',
    # ---- stack traces ---------------------------------------------------------
    'Traceback (most recent call last):\n  File "/srv/app/billing.py", line 88, in charge\n    resp = gateway.charge(card="<%card:discover:dash%>", amount=1999)\n  File "/srv/app/gw.py", line 41, in charge\n    raise CardDeclined(resp.code)\ngw.CardDeclined: 05',
    "org.postgresql.util.PSQLException: Connection to <%ip:priv%>:5432 refused. Check that the hostname and port are correct.\n\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:319)\n\tat org.postgresql.Driver.connect(Driver.java:253)",
    "openai.AuthenticationError: Error code: 401 - {'error': {'message': 'Incorrect API key provided: <%secret:sk%>. You can find your API key at https://platform.openai.com/account/api-keys.', 'type': 'invalid_request_error'}}",
    "Error: connect ECONNREFUSED <%ip:pub%>:6379\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {\n  errno: -111,\n  code: 'ECONNREFUSED',\n  syscall: 'connect'\n}",
    "ValueError: invalid literal for int() with base 10: '<%ssn:dash%>'\n  File \"etl/load.py\", line 12, in <module>",
    'Traceback (most recent call last):\n  File "send.py", line 9, in <module>\n    smtp.sendmail("<%email%>", ["<%email%>"], msg)\nsmtplib.SMTPRecipientsRefused: {\'recipient\': (550, b\'5.1.1 user unknown\')}',
    "botocore.exceptions.ClientError: An error occurred (InvalidAccessKeyId) when calling the ListBuckets operation: The AWS Access Key Id <%secret:akia%> you provided does not exist in our records.",
    "stripe.error.CardError: Request req_8Fk2LmQ: Your card number is incorrect. (card=<%card:mc2:plain%>)",
    # ---- Markdown tables --------------------------------------------------------
    "| Name | E-Mail | Telefon |\n|---|---|---|\n| Lena Brandt | <%email%> | <%phone:de%> |\n| Tobias Kern | <%email%> | <%phone:de%> |\n\nKannst du die Tabelle alphabetisch sortieren?",
    "| host | addr | role |\n|--|--|--|\n| db-01 | <%ip:priv%> | primary |\n| db-02 | <%ip:priv%> | replica |\n| edge-1 | <%ip:v6%> | lb |",
    "| Lieferant | IBAN | Betrag |\n|---|---|---:|\n| Bäckerei Huber | <%iban:DE:grouped%> | 312,40 € |\n| Druckerei Lang | <%iban:AT:compact%> | 1.020,00 € |",
    "| # | Karte | Inhaber |\n|---|---|---|\n| 1 | <%card:visa16:sp%> | M. Schulz |\n| 2 | <%card:amex:dash%> | P. Wagner |",
    "| Employee | SSN |\n|---|---|\n| R. Diaz | <%ssn:dash%> |\n| T. Young | <%ssn:space%> |",
    "| Service | Key |\n|:--|:--|\n| Maps | `<%secret:aiza%>` |\n| Slack | `<%secret:xoxb%>` |\nwhich of these should be rotated first?",
    "| Office | Phone |\n|---|---|\n| Sydney | <%phone:au%> |\n| Mumbai | <%phone:in%> |\n| Zürich | <%phone:ch%> |",
    # ---- e-mail signatures ----------------------------------------------------------
    "Thanks again for your patience!\n\nPriya Raman\nSenior Account Manager | Northwind Logistics\nM: <%phone:us%>\nE: <%email%>\nnorthwind-logistics.com",
    "Mit freundlichen Grüßen\n\nKlaus Becker\nBuchhaltung · Müller & Söhne GmbH\nTel.: <%phone:de%>\nFax: <%phone:de%>\nMail: <%email%>",
    "Cordialement,\nÉlodie Martin\nResponsable RH – Groupe Lumière\nTél : <%phone:fr%>\nPortable : <%phone:fr%>\n<%email%>",
    "Un saludo,\n--\nLucía Romero | Empresa Ibérica S.L.\n☎ <%phone:es%> · ✉ <%email%>\nAvda. de la Constitución 12, 41004 Sevilla",
    "--\nSean O'Connor\nSolutions Engineer\nt: <%phone:gb%> | m: <%phone:gb%>\nSent from my iPhone",
    # ---- chat transcripts ------------------------------------------------------------
    "[09:14:02] alice: hey can you paste the staging creds\n[09:14:31] bob: AKIA is <%secret:akia%>, secret is in 1password\n[09:15:07] alice: thx, also what's the bastion ip?\n[09:15:40] bob: <%ip:pub%>",
    "10:42 AM <marco> se cade la linea chiamami al <%phone:it%>\n10:43 AM <giulia> ok, ti scrivo anche su <%email%>",
    "[12/03/24, 21:07:13] Jana: Hier meine neue Nummer <%phone:de%>\n[12/03/24, 21:07:40] Tim: 👍 gespeichert",
    "[08:01] Carlos: mi tarjeta <%card:visa16:sp%> no pasa en Amazon\n[08:02] Soporte: ¿Puede confirmar la fecha de caducidad?",
    "[14:02:11] hr-bot: please confirm your SSN\n[14:02:40] kevin: <%ssn:dash%>\n[14:02:41] hr-bot: thanks, verifying…",
    "2024-03-12 18:30 <dana> pushed the fix, token for the registry is <%secret:ghp%>\n2024-03-12 18:31 <eli> dana pls don't paste tokens in here",
    "[Tue 09:02] Mia: IBAN für die Miete ist <%iban:DE:grouped%>\n[Tue 09:03] Leo: danke, überweise heute",
    "User (11:58): here is my card <%card:jcb:sp%> and my phone <%phone:jp%>\nAssistant (11:58): I can't process payments, but…",
    "[10:11:05] noc: edge router <%ip:v6%> flapping again\n[10:11:20] sre: failover to <%ip:pub%> done",
    # ---- config files ----------------------------------------------------------------
    "# .env.local\nDATABASE_URL=postgres://app@<%ip:priv%>:5432/app\nOPENAI_API_KEY=<%secret:skproj%>\nSLACK_BOT_TOKEN=<%secret:xoxb%>\nLOG_LEVEL=debug",
    "[default]\naws_access_key_id = <%secret:akia%>\naws_secret_access_key = <%secret:awssecret%>\nregion = us-east-2\n\nwhy does `aws s3 ls` say InvalidClientTokenId?",
    "location /admin {\n    allow <%ip:pub%>;\n    allow <%ip:priv%>;\n    deny  all;\n}\n# is the order of allow/deny right?",
    "Host bastion-prod\n    HostName <%ip:pub%>\n    User ec2-user\n    IdentityFile ~/.ssh/prod.pem\nHost db\n    HostName <%ip:priv%>\n    ProxyJump bastion-prod",
    '[maps]\ngoogle_api_key="<%secret:aiza%>"\nzoom=14\n[contact]\nsupport="<%email%>"',
    "@acme:registry=https://npm.pkg.github.com\n//npm.pkg.github.com/:_authToken=<%secret:ghp%>\nalways-auth=true",
    "slack:\n  bot_token: \"<%secret:xoxb%>\"\n  channel: \"#alerts-prod\"\n  mention: \"@oncall\"",
    'provider "aws" {\n  region     = "us-west-2"\n  access_key = "<%secret:akia%>"\n  secret_key = var.aws_secret_key\n}',
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ci-tokens\nstringData:\n  GITHUB_TOKEN: <%secret:ghp%>\n  SLACK_TOKEN: <%secret:xoxb%>",
    'extra_hosts:\n  - "db.internal:<%ip:priv%>"\n  - "cache.internal:<%ip:priv%>"',
    "<%ip:v6%>\tapi.staging.local\n<%ip:priv%>\tdb.staging.local\n# why does curl still resolve the old address?",
    "tls:\n  cert: /etc/ssl/gw.crt\n  key: |\n    <%secret:pemindent:ec%>\n",
    "[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nEndpoint = <%ip:pub%>:51820\nPersistentKeepalive = 25",
    "GH_PAT=<%secret:ghpat%>\nREPO=acme/monorepo\nBRANCH=main",
    "mail:\n  from: <%email%>\n  reply_to: <%email%>\n  smtp_host: <%ip:priv%>\n  smtp_port: 587",
    "aws_secret_access_key:<%secret:awssecret%>  <- is the missing space after the colon why the CLI ignores it?",
    # ---- SQL ----------------------------------------------------------------------
    "INSERT INTO customers (id, full_name, email, ssn) VALUES (1017, 'Rhonda Pike', '<%email%>', '<%ssn:dash%>');",
    "INSERT INTO payouts VALUES (nextval('payout_seq'),'<%iban:NL:compact%>','EUR',1499),(nextval('payout_seq'),'<%iban:BE:compact%>','EUR',250);",
    "INSERT INTO sessions(ip, ua) VALUES ('<%ip:v6full%>','Mozilla/5.0 (X11; Linux x86_64)'),('<%ip:pub%>','curl/8.4.0');",
    "INSERT INTO clientes (nombre, telefono, iban) VALUES ('María Fernández', '<%phone:es%>', '<%iban:ES:compact%>');",
    "UPDATE employees SET ssn='<%ssn:dash%>' WHERE emp_id=4471;",
    "INSERT INTO cards(pan,exp) VALUES('<%card:discover:plain%>','2026-11');",
    "INSERT INTO api_keys (owner, key) VALUES ('ml-team', '<%secret:sk%>'), ('search', '<%secret:ant%>');",
    "INSERT INTO contacts VALUES (9,'Camille Moreau','<%phone:fr%>','<%email%>',NOW());",
    "SELECT * FROM logins WHERE ip = '<%ip:pub%>' OR email = '<%email%>' ORDER BY ts DESC LIMIT 20;",
    # ---- shell history --------------------------------------------------------------
    "  501  export ANTHROPIC_API_KEY=<%secret:ant%>\n  502  python run_eval.py --model claude-3-5-sonnet\n  503  history | tail -n 3",
    "$ ssh -p 2222 deploy@<%ip:pub%>\nkex_exchange_identification: read: Connection reset by peer",
    '$ curl -s -H "Authorization: Bearer <%secret:bearer%>" https://api.internal.example/v2/orders?limit=5 | jq .',
    "$ ping -6 -c 3 <%ip:v6%>\n3 packets transmitted, 0 received, 100% packet loss, time 2043ms",
    "$ git clone https://x-access-token:<%secret:ghp%>@github.com/acme/payments.git\nCloning into 'payments'...",
    "$ docker run -e OPENAI_API_KEY=<%secret:sk%> -p 8080:8080 ghcr.io/acme/gw:1.4.2\nError: port is already allocated",
    "iptables -A INPUT -s <%ip:pub%> -j DROP\niptables -A INPUT -s <%ip:pub%> -p tcp --dport 22 -j ACCEPT",
    "git remote -v\norigin\thttps://<%secret:ghpat%>@github.com/acme/infra.git (fetch)\nfatal: unable to access: The requested URL returned error: 403",
    "  77  aws configure set aws_secret_access_key <%secret:awssecret%>\n  78  aws sts get-caller-identity",
    "+ echo $GH_TOKEN\n<%secret:ghp%>\n+ ./deploy.sh --maps-key <%secret:aiza%>\nerror: deploy failed (exit 2)",
    "$ export AWS_ACCESS_KEY_ID=<%secret:asia%>\n$ aws s3 cp build.zip s3://acme-artifacts/\nupload failed: ExpiredToken",
    "curl -X POST -H 'Authorization: Bearer <%secret:xoxb%>' -H 'Content-type: application/json' --data '{\"channel\":\"C061F8JKL2N\",\"text\":\"deploy done\"}' https://slack.com/api/chat.postMessage",
    'curl https://api.anthropic.com/v1/messages -H "x-api-key: <%secret:ant%>" -H "anthropic-version: 2023-06-01" -d \'{"model":"claude-3-opus-20240229","max_tokens":64}\'',
    "In [3]: os.environ['OPENAI_API_KEY']\nOut[3]: '<%secret:skproj%>'",
    # ---- code ----------------------------------------------------------------------
    'import anthropic\nclient = anthropic.Anthropic(api_key="<%secret:ant%>")\nmsg = client.messages.create(model="claude-3-haiku-20240307", max_tokens=256, messages=msgs)',
    "from openai import OpenAI\nclient = OpenAI(api_key='<%secret:skproj%>')\nprint(client.models.list())",
    'headers = {"Authorization": "Bearer <%secret:bearer%>", "Accept": "application/json"}\nr = requests.get(url, headers=headers, timeout=10)',
    "const map = new google.maps.Map(el, {center: {lat: 52.52, lng: 13.405}, zoom: 12});\n// <script src=\"https://maps.googleapis.com/maps/api/js?key=<%secret:aiza%>&callback=initMap\"></script>",
    "<meta-data android:name=\"com.google.android.geo.API_KEY\" android:value=\"<%secret:aiza%>\"/>",
    "test_payload = {'pan': '<%card:jcb:plain%>', 'exp_month': 4, 'exp_year': 2027}",
    'Contact us: <a href="mailto:<%email%>">Support</a> or call <a href="tel:<%phone:e164%>">our hotline</a>',
    '<input type="email" value="<%email%>"><input type="tel" value="<%phone:gb%>">',
    "Run actions/checkout@v4\n  with:\n    token: <%secret:ghpat%>\n    fetch-depth: 0\nError: fatal: could not read Username for 'https://github.com'",
    # ---- HTTP / cookies / JWT -----------------------------------------------------------
    "Cookie: session=<%secret:jwt%>; theme=dark; lang=de-DE",
    "GET /api/me HTTP/1.1\nHost: api.acme.io\nAuthorization: Bearer <%secret:jwt%>\nAccept: application/json\n\nwhy do I get 401 token expired?",
    "POST /v1/chat/completions HTTP/2\nhost: api.openai.com\nauthorization: Bearer <%secret:sk%>\ncontent-type: application/json",
    "Postman → Headers → Authorization: Bearer <%secret:bearer%> → 403 Forbidden. Scope problem?",
    "Can you decode this JWT and tell me when it expires? <%secret:jwt%>",
    "<%secret:jwt%> <- this token from localStorage, is it safe to keep there?",
    "X-Forwarded-For: <%ip:pub%>, <%ip:priv%>\nX-Real-IP: <%ip:pub%>\nVia: 1.1 varnish",
    "access_token=<%secret:jwt%>&token_type=bearer&expires_in=3600",
    # ---- PEM ------------------------------------------------------------------------
    "I accidentally committed this, is it safe to just delete the file?\n\n<%secret:pem:rsa%>",
    "here's my id_ed25519, why does ssh say 'invalid format'?\n<%secret:pem:openssh%>\n(copied from windows notepad)",
    "<%secret:pem:ec%>\nwhich curve is this key on?",
    "openssl says 'bad decrypt' for:\n<%secret:pem:enc%>",
    # ---- logs ---------------------------------------------------------------------
    '<%ip:pub%> - - [12/Mar/2024:09:14:22 +0000] "POST /login?user=<%email%> HTTP/1.1" 401 512 "-" "okhttp/4.12.0"',
    "2024-03-12 09:14:22,118 fail2ban.actions [812]: NOTICE [sshd] Ban <%ip:pub%>",
    "Mar 12 09:14:22 gw01 sshd[2211]: Failed password for invalid user admin from <%ip:v6%> port 52144 ssh2",
    "Mar 12 10:01:55 mx1 postfix/smtp[3312]: 4F1A22C0: to=<<%email%>>, relay=mx.example-mail.de[<%ip:pub%>]:25, delay=1.2, status=bounced (user unknown)",
    "2024-03-12 09:14:22 WARN  Login fehlgeschlagen für <%email%> von <%ip:pub%> (3. Versuch)",
    "Échec de connexion : utilisateur=<%email%> ; adresse=<%ip:v6%> ; motif=mot de passe incorrect",
    "2024-03-12T18:22:01Z ERROR validation failed field=ssn value=<%ssn:dash%> reason=duplicate",
    "level=warn msg=\"blocked request\" client=<%ip:v6full%> path=/wp-login.php rule=bot-4",
    "Traceroute:\n 1  <%ip:priv%>  0.412 ms\n 2  <%ip:priv%>  8.3 ms\n 3  <%ip:pub%>  11.9 ms",
    "Ethernet adapter Ethernet:\n   IPv6 Address. . . . . . . . . . . : <%ip:v6%>\n   IPv4 Address. . . . . . . . . . . : <%ip:priv%>\n   Default Gateway . . . . . . . . . : <%ip:priv%>",
    "Blocked by WAF (client <%ip:pub%>), rule 942100; retry from <%ip:priv%>?",
    "webhook payload: card=<%card:amex:plain%>|status=declined|reason=insufficient_funds",
    # ---- German / French / Spanish ----------------------------------------------------
    "Hallo, meine IBAN lautet <%iban:DE:grouped%>, bitte überweisen Sie die Kaution bis Freitag.",
    "Könnten Sie mich unter <%phone:de%> zurückrufen? Alternativ erreichen Sie mich per Mail:<%email%>",
    "Mein Kollege in den USA hat seine SSN (<%ssn:dash%>) ins Support-Ticket geschrieben – müssen wir das löschen?",
    "Zahlung bitte auf <%iban:CH:grouped%> (PostFinance) – Referenz 2024-0311",
    "Ich habe aus Versehen meine Kreditkartennummer <%card:mc:dash%> in den Chat kopiert. Kann man das löschen?",
    "Der Server <%ip:priv%> antwortet nicht mehr, der zweite (<%ip:v6%>) schon.",
    "Festnetz: <%phone:de%> | Mobil: <%phone:de%> – bitte nur werktags anrufen.",
    "Bonjour, voici mon RIB : <%iban:FR:grouped%> (Crédit Agricole). Merci de confirmer la réception à <%email%>.",
    "Mon numéro de carte est <%card:visa16:sp%>, expiration 08/27 – pourquoi le paiement est-il refusé ?",
    "Numéro SSN américain : <%ssn:space%> (pour le formulaire W-8BEN), c'est bien ça ?",
    "Écrivez-nous à l'adresse <%email%> ou appelez le <%phone:fr%> du lundi au vendredi.",
    "Mon adresse IP publique est <%ip:pub%> ; pouvez-vous l'ajouter à la liste blanche ?",
    "Hola, mi número es <%phone:es%> y mi correo <%email%>; llámame después de las 18:00.",
    "Transferencia a la cuenta <%iban:ES:grouped%> por importe de 1.200,00 €, concepto: alquiler marzo.",
    "Mi número de Seguro Social es <%ssn:dash%>, ¿lo necesitan para la solicitud de empleo?",
    "Pagué con la tarjeta <%card:mc2:sp%> y me cobraron dos veces, ¿qué hago?",
    "Mi clave de OpenAI (<%secret:sk%>) dejó de funcionar ayer, ¿la revocaron?",
    "Bonifico su IBAN <%iban:IT:compact%> intestato a Rossi S.r.l., causale fattura 118/2024",
    "Numer konta: <%iban:PL:grouped%>; tytuł przelewu: czynsz kwiecień",
    "Betala till <%iban:SE:compact%>, meddelande: hyra april",
    "Olá! Meu celular é <%phone:br%>, pode me mandar o boleto?",
    "Teléfono de la oficina en CDMX: <%phone:mx%>, horario 9–18 h.",
    "JCBカード: <%card:jcb:dash%> で支払いできますか？",
    # ---- awkward positions / punctuation -------------------------------------------------
    "<%email%> — can you check why this account can't log in since yesterday?",
    "the courier needs a contact number, use <%phone:us%>",
    "from:<%email%>\nto:<%email%>\nsubject:Re: Q3 invoice\n\nsummarise this thread pls",
    "W-2 box a (employee's SSN):<%ssn:dash%>; box 1 wages 84,210.55; box 2 federal tax withheld 11,930.00",
    "Payment failed for [<%card:mc2:dash%>] — gateway says 'do not honor'.",
    'From: "Dr. Sofia Reyes" <<%email%>>\nTo: billing <<%email%>>\nDate: Tue, 12 Mar 2024 09:14:22 +0100\nSubject: Factura pendiente',
    "hey so my details are: name=Tom Baker; ssn=<%ssn:space%>; card=<%card:visa16:dash%>; exp=03/28 — can you fill the form for me?",
    "Tel:<%phone:fr%>;Fax:non;Email:non communiqué",
    'curl -g "http://[<%ip:v6%>]:8080/healthz" returns connection refused, but localhost works',
    "Charge it to my Amex <%card:amex:plain%>.",
    "Discover card on file:<%card:discover:plain%>, billing zip 60614",
    "legacy test account still has a 13-digit Visa (<%card:visa13:plain%>) — does Stripe accept those?",
    'ssn "<%ssn:space%>" failed regex ^\\d{3}-\\d{2}-\\d{4}$ because of the spaces',
    "Please pay invoice INV-2291 to IBAN <%iban:GB:grouped%> (ref: HOLLOWAY-MAR).",
    "IBAN:<%iban:BE:compact%>|BIC:GEBABEBB|Montant:75,00",
    "Applicant ssn <%ssn:dash%>, card <%card:mc:sp%>; approve?",
    "Dependents:\n- Emma (<%ssn:dash%>)\n- Noah (<%ssn:dash%>)\nDo both need to be on the 1040?",
    "For the I-9 form the last thing I need is my SSN which is <%ssn:dash%>",
    "Name: Wendy Cho\nSSN:<%ssn:dash%>\nPhone:<%phone:us%>\nEmail:<%email%>\nIs this enough for the background check?",
    "Our Sydney office (<%phone:au%>) opens at 9am AEST.",
    "Mumbai desk: <%phone:in%> / Amsterdam desk: <%phone:nl%>",
    "cc: <%email%>; <%email%>; <%email%>",
    "commit 3f2c9a1\nAuthor: Daniel Kraus <<%email%>>\nDate:   Mon Mar 11 17:02:44 2024 +0100\n\n    fix: handle empty cart",
    'Reply-To: "Service Client" <<%email%>>',
    "Unsubscribe: <mailto:<%email%>?subject=unsubscribe>",
    "Sign me up with <%email:plus%> (I use plus-addressing for filters).",
    "EMAIL ADDRESS: <%email:upper%>\nPLEASE ACKNOWLEDGE RECEIPT",
    "She said 'write to <%email%>.' and hung up.",
    "can't talk now, Whatsapp me: <%phone:e164%>",
    "Dr. Ahmed's office — <%phone:us%> (ext. 214); after hours <%phone:us%>",
    "Call center numbers: UK <%phone:gb%>, Spain <%phone:es%>, France <%phone:fr%>.",
    "Assigned address <%ip:v6full:upper%> via SLAAC on wlan0.",
    "DNS servers: <%ip:v6%>, <%ip:v6%>",
    "Client IP:<%ip:priv%>;Server IP:<%ip:priv%>",
    "my home IP is <%ip:pub%>, can you whitelist it on the RDS security group?",
    "STS gave me <%secret:asia%> as the temp access key id — does it expire?",
    "Slack says invalid_auth for <%secret:xoxb%> — did they rotate it?",
    "Maps stopped loading after I moved the key (<%secret:aiza%>) to a new project.",
    "BEGIN:VCARD\nVERSION:3.0\nFN:Hannah Vogel\nTEL;TYPE=CELL:<%phone:de%>\nEMAIL;TYPE=INTERNET:<%email%>\nEND:VCARD",
    "ATTENDEE;CN=Luis Ortega;ROLE=REQ-PARTICIPANT:mailto:<%email%>\nORGANIZER:mailto:<%email%>\nDTSTART:20240315T090000Z",
    "SSN on the 1099 looks wrong:<%ssn:dash%>.",
    "ssn: <%ssn:space%>; dob: 04/19/1958; county: Cook",
    "background check for \"<%ssn:dash%>\" came back clean",
    "Is <%ssn:dash%> a valid SSN or did the applicant make it up?",
    "tokens leaked in the CI log: <%secret:ghpat%>, <%secret:sk%>",
    "Wire to: <%iban:NL:grouped%>\nBeneficiary: Tulip Trading B.V.\nAmount: EUR 2,500.00",
    "Konto: <%iban:DE:compact%>\nBLZ/BIC: GENODEF1S06\nBetreff: Rechnung 2024-117",
    "La domiciliación se hará a <%iban:ES:grouped%>.",
    "IBAN (Italia): <%iban:IT:grouped%> — IBAN (Francia): <%iban:FR:compact%>",
    "Please refund to <%iban:GB:compact%>; the card (<%card:visa16:plain%>) has been cancelled.",
    "'<%iban:CH:compact%>' wird vom Formular als ungültig markiert, obwohl die Prüfziffer stimmt?!",
    "Kontonummer <%iban:AT:grouped%> / Betrag 45,00",
    "SEPA mandate: <%iban:BE:grouped%>; creditor id BE69ZZZ0123456789",
    "Bank details — <%iban:PL:compact%> (mBank), swift BREXPLPW",
    "Kontonummer för återbetalning: <%iban:SE:grouped%>",
    "Kartennummer:<%card:visa16:dash%> Gültig bis 11/28 Prüfnummer ***",
    "<%card:mc:sp%> — is this a debit or credit card? The bank app doesn't say.",
    "refund issued to card (<%card:amex:sp%>); allow 5–10 business days",
    "Numéro de carte:<%card:mc2:plain%>;date d'expiration:06/29",
    "2024-03-12 10:00:01 DEBUG tokenizing pan <%card:discover:sp%> -> tok_9fK2mQ (vault)",
    'order_id,pan,amount\n5521,"<%card:jcb:plain%>",12000 JPY',
    "tarjeta:<%card:visa13:plain%> (antigua, de 13 dígitos) – ¿sigue siendo válida?",
    "Employee SSN <%ssn:dash%> appears in both payroll exports — merge?",
    "SSN\t<%ssn:space%>\nDOB\t1969-05-21\nStatus\tpending",
]

SPLIT = [
    # EMAIL_ADDRESS
    "please forward the report to <%!email%> before noon",
    "Kontakt: <%!email%>, Tel. <%phone:de%>",
    '{"to":"<%!email%>","subject":"Invoice 2291"}',
    "Réponds-moi sur <%!email%> stp, je suis en déplacement",
    "<%!email%> is the billing contact; the tech contact is <%email%>",
    "From: Ops <<%!email%>>\nSubject: disk alert on node-7",
    # PHONE_NUMBER
    "call me at <%!phone:us%> after 5pm",
    "Mi móvil: <%!phone:es%>. Gracias por la ayuda.",
    "Tel.: <%!phone:de%> (Zentrale, Mo–Fr)",
    "UK line <%!phone:gb%>, or email <%email%>",
    "| Büro Paris | <%!phone:fr%> |\n| Büro Rom | <%phone:it%> |",
    "emergency contact,<%!phone:intl%>,mother",
    # CREDIT_CARD
    "card number <%!card:visa16:sp%> exp 04/27",
    "pan=<%!card:mc:plain%>&amount=1999&currency=EUR",
    "Amex: <%!card:amex:dash%> (corporate card)",
    "Zahlung mit Karte <%!card:discover:sp%> fehlgeschlagen",
    "'<%!card:jcb:dash%>' is being rejected by our regex",
    "INSERT INTO cards VALUES ('<%!card:mc2:plain%>','2027-09');",
    # IBAN_CODE
    "IBAN <%!iban:DE:grouped%> – Verwendungszweck Miete",
    "payout target -> iban:<%!iban:FR:compact%>",
    "send it to <%!iban:GB:grouped%> please, ref TR-118",
    "Cuenta: <%!iban:ES:grouped%>; titular: Lucía Romero",
    '{"iban":"<%!iban:NL:compact%>","bic":"INGBNL2A"}',
    "Konto (<%!iban:CH:grouped%>) bitte bis Monatsende belasten",
    # IP_ADDRESS
    "ssh admin@<%!ip:pub%> -p 2222",
    "server_name _;\nproxy_pass http://<%!ip:priv%>:3000;",
    "client connected from <%!ip:v6%> at 10:42:17",
    "allowlist: <%!ip:pub%>, <%ip:priv%>",
    "IPv6 (global): <%!ip:v6full%>",
    "ping <%!ip:priv%> works but dns fails",
    # US_SSN
    "my ssn is <%!ssn:dash%> fyi, don't store it anywhere",
    "SSN: <%!ssn:space%> (from the scanned card)",
    '{"name": "A. Ruiz", "ssn": "<%!ssn:dash%>"}',
    "Sozialversicherungsnummer (USA): <%!ssn:dash%>",
    "ssn=<%!ssn:dash%>;dob=1984-09-02;state=OH",
    "(<%!ssn:dash%>) was entered twice on the W-4",
    # SECRET
    "OPENAI_API_KEY=<%!secret:sk%>",
    "export ANTHROPIC_API_KEY=<%!secret:ant%>",
    "aws_access_key_id=<%!secret:akia%>\naws_secret_access_key=<%!secret:awssecret%>",
    "Authorization: Bearer <%!secret:jwt%>",
    "token: <%!secret:ghp%> (expires in 7 days)",
    "slack_token = '<%!secret:xoxb%>'",
    "maps key: <%!secret:aiza%>",
    "-- paste --\n<%!secret:pem:ec%>\n-- end --",
    "GH_TOKEN=<%!secret:ghpat%>",
    'curl -H "Authorization: Bearer <%!secret:bearer%>" https://api.example.org/v1/me',
]

HARD_NEGATIVE = [
    "Card ending in ****1111 was charged $42.00 on 2024-02-11; why is there still a pending hold of $1.00?",
    "Our validator accepted <%n:luhnfail:sp%> even though the checksum is wrong — see ticket INC-20931.",
    "Der Kunde hat <%n:ibanbad:DE:grouped%> angegeben, aber die Prüfziffer stimmt nicht – bitte beim Kunden nachfragen.",
    "Upgraded Python from 3.11.7 to 3.12.2 and now pip complains: numpy 1.26.4 requires python<3.13, found 2.0.0rc1.",
    "Release 2.4.1-beta.3+build.20240311 is tagged; 1.0.0+sha.5114f85 was the last stable one on the 1.x line.",
    "2024-03-15T14:22:09.123Z WARN worker[3] job 7781 took 00:04:17 (retry 2/5), next run at 14:30:00",
    "Lap times: 01:23:45, 00:12:03; 00:11:58 and 00:12:40 — what's the average pace per km over 42.195 km?",
    "Termin am 15.03.2024 oder doch 03/15/2024? Le 15 mars 2024, el 15 de marzo de 2024, on Mar 15th, 2024.",
    "request_id=<%n:uuid%> upstream=payments-svc status=502 latency_ms=30012",
    "commit <%n:sha1%>\nAuthor: build-bot\nDate:   Tue Mar 12 09:14:22 2024 +0100\n\n    chore: bump deps",
    ".btn-primary{color:#1a2b3c;background:#FF5733;padding:12px 24px;margin:0 auto;z-index:1000;border-radius:4px}",
    "Ship to: 350 Fifth Ave, Suite 300, New York, NY 10118-0110, USA (ZIP+4 required by the carrier).",
    "The signup form should reject placeholders like 000-000-0000, 123-456-7890 and the fictional 555-0100.",
    "Order #A-2024-00018734 / invoice INV-000481-22 / ticket SR-7713302 — can you merge these into one case?",
    "Tracking: UPS 1Z999AA10123456784, DHL JJD000390007788221, La Poste 6A12345678901 — which one is stuck?",
    "Total: $1,234,567.89 (≈ EUR 1.134.220,10) — VAT 19 % = 215.501,82 €; due within 30 days.",
    "const grid = [[0, 255, 128], [64, 32, 16]];\nsetTimeout(poll, 30000);\nctx.fillRect(10, 20, 300, 150);\nconsole.log(0xff & 0b1010);",
    "pip install scikit-learn  # imported as sklearn — is the old `sk-learn` package name still valid on PyPI?",
    "disk-usage alert on node-7: /var at 91%, run `du -sh /var/*` and check the task-runner and risk-engine logs.",
    "Docs say: send `Authorization: Bearer <token>` — but my client sends `Bearer null` when the user is logged out.",
    "headers: { Authorization: `Bearer ${process.env.API_TOKEN}` }  // why is it undefined in the browser?",
    "Hi <PERSON_1>, your address <EMAIL_ADDRESS_1> and number <PHONE_NUMBER_2> were replaced with [REDACTED] per policy.",
    "We sent a one-time code to j***@***.com and to m****a@g****.de — check spam if it doesn't arrive within 10 min.",
    "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n        ether 00:1a:2b:3c:4d:5e  txqueuelen 1000  (Ethernet)\n        RX packets 88213  bytes 101245776 (96.5 MiB)",
    "Quellen: ISBN 978-3-16-148410-0 sowie ISBN-10 3-16-148410-X (beide im Literaturverzeichnis).",
    "Treffpunkt: 40.7128, -74.0060 (NYC) oder 51.5072, -0.1276 (London) — welche Zeitzone nehmen wir?",
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/122.0.6261.94 Safari/537.36",
    "Segmentation fault (core dumped) at 0x00007f3a2c1b4e10 in libssl.so.3, frame #4 0x000055d1e8a0c2f4",
    "image: ghcr.io/acme/api@sha256:<%n:sha256%>\nresources: {cpu: 500m, memory: 256Mi}\nreplicas: 3",
    "Luhn check: 4111 1111 1111 1112 fails and 5500-0000-0000-0005 fails too — both are typos of test cards.",
    "arn:aws:iam::123456789012:role/deploy-prod has no permission s3:PutObject on arn:aws:s3:::acme-artifacts/*",
    "Slack app config: bot token = xoxb-your-token-here, signing secret = <paste here>, channel C04ABCD1234",
    "Set GITHUB_TOKEN to a ghp_… token (classic) or a github_pat_… fine-grained token; never commit it.",
    "The key starts with AIza… and the JWT starts with eyJ, which is just base64 for '{\"' — no secret here.",
    "<%n:pem:pub%>\nIs it OK to share this public key with the vendor?",
    "Our load balancer serves this chain, is the intermediate missing?\n<%n:pem:cert%>",
    "SKU-4412-BLK-XL restocked: 1,250 units @ €18.90; EAN 4006381333931 — please check the barcode label.",
    "p99 latency 412ms, p50 38ms, throughput 1.2k rps, error rate 0.03% over the last 24h (2024-03-11 00:00 → 23:59).",
    "solve: 3x + 7 = 22 ⇒ x = 5; also 2^32 = 4294967296 and 10! = 3628800",
    "CAS 7732-18-5 (water), CAS 64-17-5 (ethanol) — need SDS sheets for both.",
    "Cron: */5 * * * * for the poller, 0 3 * * 1-5 for backups, and 30 2 1 * * for the monthly report.",
    "Invalid SSNs for the test suite: 000-12-3456, 123-00-4567, 234-56-0000 (area 000, group 00, serial 0000).",
    "npm i @types/node@20.11.5 eslint@8.57.0 --save-dev",
    "@app.route('/api/v1/users/<int:user_id>', methods=['GET'])\ndef get_user(user_id): ...",
    "Follow @nasa and @esa for launch updates; #Artemis2 slipped to 2025.",
    "Segment durations: PT1H30M, P3Y6M4DT12H30M5S, and P0D — parse them with isodate?",
    "Aspect 16:9 at 1920x1080, 60 Hz, HDR10; fallback 1280x720 @ 30 Hz.",
    "Population of Berlin: 3.878.100 (2023), Madrid 3,332,035 — format these with locale-aware separators.",
    "IPs like 999.12.3.1 or 192.168.1.300 are invalid — my regex still matches them, how to fix?",
    "Windows build 10.0.19045.4170, Office 16.0.17328.20162, .NET 8.0.2 — all patched?",
    "Hex dump:\n00000000  4d 5a 90 00 03 00 00 00  04 00 00 00 ff ff 00 00  |MZ..............|",
    "MAC (getmac): 3C-52-82-1A-9F-04, Bluetooth 60:F2:62:AA:01:7B — are those unique per device?",
    "Kundennummer 4711-0815-2024, Vertragsnummer V-88213/22, Zählernummer 1ESY1160512345 — bitte zuordnen.",
    "Numéro de commande : CMD-2024-A00871, facture n° 2024/0412, total TTC 1 249,90 €.",
    "Pedido n.º ES24-A0871 enviado el 3 de abril; seguimiento ES-TRK-88213-XZ; importe 89,95 €.",
    "Le fichier config contient OPENAI_API_KEY=sk-... et ANTHROPIC_API_KEY=<votre-clé> — est-ce suffisant ?",
    '{"email":"[REDACTED]","card":"**** **** **** 4242","ssn":"***-**-6789","phone":"+1 (***) ***-**17"}',
    "Die Prüfsumme der IBAN <%n:ibanbad:FR:compact%> ist falsch (mod 97 ≠ 1), daher Ablehnung durch die Bank.",
    "IBAN format reference: DEkk bbbb bbbb cccc cccc cc, GBkk bbbb ssss sscc cccc cc — k = check digits.",
    "sha256sum: <%n:sha256%>  release.tar.gz\nmd5: <%n:md5%>",
    "trace_id=<%n:hex:32%> span_id=<%n:hex:16%> parent=<%n:hex:16%> sampled=1",
    "Invalid cards from QA: <%n:luhnfail:dash%> and <%n:luhnfail:plain%> (both fail Luhn).",
    "Exchange rate EUR/USD 1.0876 on 2024-03-12 at 16:00 CET; 30-day high 1.0981, low 1.0712.",
    "| metric | value |\n|---|---|\n| uptime | 99.982% |\n| MTTR | 00:42:10 |\n| incidents | 3 |",
    "sku,qty,price\nA-100,12,3.50\nB-220,4,19.99\nC-031,100,0.25\nsum the qty column please",
    "INSERT INTO audit_log (event, created_at) VALUES ('login_failed', '2024-03-12 09:14:22'), ('password_reset', '2024-03-12 09:15:03');",
    "   88  git log --oneline | head\n   89  export OPENAI_API_KEY=$(pass show openai/api)\n   90  docker compose up -d --build",
    "[09:14:02] alice: what's the VPN password?\n[09:14:31] bob: check the vault, not pasting it here 🙂\n[09:15:07] alice: fair",
    "Stack trace:\n  at Object.<anonymous> (/app/src/index.js:42:17)\n  at Module._compile (node:internal/modules/cjs/loader:1256:14)\n  at node:internal/main/run_main_module:28:49",
    "Bearer tokens expire after 3600 s. Our test client literally sends 'Authorization: Bearer test' — is that why we get 401?",
    "task: sk-prefix check — our linter flags words like 'sk-SK' (Slovak locale), 'desk-top' and 'ask-me-anything'.",
    "Phone-shaped but invalid: +1 (123) 456-7890, +44 7700 900123 (Ofcom drama range), 0000 000000.",
    "Zeitstempel 1710512345 (Unix) bzw. 1710512345123 ms — wie rechne ich das in MEZ um?",
    "Ticket #48213 — user reports 'error 0x80070005' when installing KB5034441 on build 22631.3155.",
    "Lottozahlen dieser Woche: 04 11 23 35 42 48, Superzahl 7. Jackpot 12.400.000 €.",
    "Bible study: John 3:16, Romans 8:28, Psalm 23:1-6 — 19:30 Uhr im Gemeindehaus.",
    "Kubernetes: nginx:1.25.4-alpine, redis:7.2.4, postgres:16.2-bookworm; helm chart 0.31.7+g3f2c9a1.",
    "The mask in the UI shows 'XXX-XX-1234' and 'XXXX XXXX XXXX 9876' — is that enough for PCI?",
    "GPS trace: 52°31′12″N 13°24′18″E at 10:42:17, altitude 34 m, speed 12.6 km/h.",
    "Dates: 2024/03/15 23:59:59, 15-Mar-2024, 20240315, 15.3.24, 3/15/24, 2024-W11-5.",
    "Receipt 0042-1187-9930 (store 118, register 4) — amount 23,40 €, paid by card ****9021.",
    "Placeholder IBAN XX00 0000 0000 0000 0000 00 must not pass validation, neither should DE00 1234 5678 9012 3456 78.",
    "redacted transcript:\n[10:02] user: my card is [CREDIT_CARD]\n[10:03] agent: thanks, and your email?\n[10:03] user: <EMAIL_ADDRESS>",
    "openai-python 1.14.0, anthropic-sdk 0.21.3, tiktoken 0.6.0 — any known incompatibility?",
    '{"id":"cus_NffrFeUfNV2Hib","invoice":"in_1OpZx2LkdIwHu7ix","amount":4999,"currency":"eur","created":1710512345}',
    "Bitte überweisen Sie den Betrag bis zum 31.03.2024 unter Angabe der Rechnungsnummer 2024-0417 – vielen Dank!",
    "Rendez-vous le 12/04 à 14h30, salle 3.12, bâtiment B ; prévoir 01:30:00 de réunion.",
    "La reunión dura 01:15:00; empieza a las 09:30 (CET) y el acta se envía el 2024-04-03.",
    "Git: HEAD detached at 3f2c9a1; stash@{0}: WIP on main: 9b1e7d0 fix typo",
    "SELECT * FROM users WHERE email LIKE '%@%.%' AND created_at > NOW() - INTERVAL '30 days';",
    "UUIDv4 ids: <%n:uuid%>, <%n:uuid%>; ULID 01HRQ5X9V3K2M8N4P6T7W0YZAB.",
    "Access key IDs start with AKIA (long-term) or ASIA (temporary); ours live in SSM Parameter Store, not in code.",
    "Mein Passwort-Manager zeigt nur ****-****-****-4821 und j.m*****@web.de an – reicht das für die Kündigung?",
    "Votre IBAN FR76 **** **** **** **** **** 189 a bien été enregistré.",
    "Su tarjeta terminada en 4921 caduca el 09/2026; el código de seguridad no se almacena.",
    "ANTHROPIC_API_KEY=sk-ant-xxxxxxxx  # replace with your own key, see README §3.2",
    "jwt: header.payload.signature — the header is base64url JSON, e.g. {\"alg\":\"HS256\",\"typ\":\"JWT\"}",
    "color palette: #0B0C10 #1F2833 #C5C6C7 #66FCF1 #45A29E; rgba(255, 99, 71, 0.5)",
    "grid-template-columns: repeat(12, 1fr); @media (max-width: 768px) { .col-6 { width: 100%; } }",
    "Invoice RE-2403-42 · Net 30 · Subtotal 1.499,00 € · MwSt 284,81 € · Gesamt 1.783,81 €",
    "Flight LH 1234 FRA→MAD departs 06:45, arrives 09:20; seat 23C; booking ref K7Q2ZP.",
    "The IBAN-like string GB00NWBK00000000000000 from the docs fails validation on purpose.",
    "bank statement line: 15.03. SEPA-Lastschrift Stadtwerke Ulm 89,90- Saldo 1.204,55",
    "https://maps.example.com/?lat=47.3769&lon=8.5417&z=15 — why does the marker show up in the lake?",
    "Koordinaten: 34.0522, -118.2437 (Los Angeles) und 45.4642, 9.1900 (Mailand).",
]


# --------------------------------------------------------------------------
# assembly
# --------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"<%(!?)([a-z0-9]+)((?::[A-Za-z0-9]+)*)%>")

TYPE_OF = {
    "email": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER", "card": "CREDIT_CARD",
    "iban": "IBAN_CODE", "ip": "IP_ADDRESS", "ssn": "US_SSN", "secret": "SECRET",
}


def fill(gen: Gen, template: str):
    """Return (text, entities, cut_values) for a template."""
    entities: list[dict] = []
    cut: list[str] = []
    out: list[str] = []
    pos = 0
    for m in PLACEHOLDER.finditer(template):
        out.append(template[pos:m.start()])
        pos = m.end()
        bang, kind, args = m.group(1), m.group(2), [a for a in m.group(3).split(":") if a]
        if kind == "n":
            out.append(gen.neg(*args))
            continue
        value = getattr(gen, kind)(*args)
        entities.append({"type": TYPE_OF[kind], "value": value})
        if bang:
            cut.append(value)
        out.append(value)
    out.append(template[pos:])
    return "".join(out), entities, cut


def make_chunks(rng: random.Random, text: str, cut_values: list[str]) -> list[str]:
    cuts: set[int] = set()
    for v in cut_values:
        start = text.index(v)
        cuts.add(start + rng.randint(1, len(v) - 1))
    extra = rng.randint(0, min(2, 5 - len(cuts)))
    while extra:
        c = rng.randint(1, len(text) - 1)
        if c not in cuts:
            cuts.add(c)
            extra -= 1
    bounds = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def build() -> list[dict]:
    rng = random.Random(SEED)
    gen = Gen(rng)
    items = []
    for category, templates in (("positive", POSITIVE), ("split", SPLIT), ("hard_negative", HARD_NEGATIVE)):
        for template in templates:
            for _attempt in range(50):
                text, entities, cut = fill(gen, template)
                if all(text.count(e["value"]) == 1 for e in entities):
                    break
            else:
                raise AssertionError(f"value not unique in text for template {template[:60]!r}")
            item = {"category": category, "text": text, "entities": entities}
            if category == "split":
                assert cut, template
                item["chunks"] = make_chunks(rng, text, cut)
            items.append(item)
    rng.shuffle(items)
    out = []
    for i, item in enumerate(items, 1):
        row = {"id": f"ho-{i:03d}", "category": item["category"], "text": item["text"], "entities": item["entities"]}
        if "chunks" in item:
            row["chunks"] = item["chunks"]
        out.append(row)
    validate(out)
    return out


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------

PEM_RE = re.compile(r"-----BEGIN ((?:RSA |EC |OPENSSH |ENCRYPTED )?PRIVATE KEY)-----(?:\\n|\n {0,4}|[A-Za-z0-9+/=])+?-----END \1-----")
SECRET_RES = [
    re.compile(r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}"),
    re.compile(r"sk-proj-[A-Za-z0-9_-]{40,200}"),
    re.compile(r"sk-ant-api03-[A-Za-z0-9_-]{93}AA"),
    re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}"),
    re.compile(r"[A-Za-z0-9/+]{40}"),  # only with aws_secret_access_key context (checked below)
    re.compile(r"ghp_[A-Za-z0-9]{36}"),
    re.compile(r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"),
    re.compile(r"xoxb-\d{10,13}-\d{10,13}-[A-Za-z0-9]{24}"),
    re.compile(r"AIza[A-Za-z0-9_-]{35}"),
    re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
    PEM_RE,
    re.compile(r"[A-Za-z0-9._~+/-]{32,}"),  # opaque bearer token (checked with context below)
]


def _secret_ok(text: str, value: str) -> bool:
    i = text.index(value)
    before = text[max(0, i - 40):i].lower()
    if re.match(r"(sk-|AKIA|ASIA|ghp_|github_pat_|xoxb-|AIza|eyJ|-----BEGIN)", value):
        return any(rx.fullmatch(value) for rx in SECRET_RES[:-1] if rx is not SECRET_RES[4])
    if SECRET_RES[4].fullmatch(value) and "aws_secret_access_key" in before:
        return True
    return bool(SECRET_RES[-1].fullmatch(value) and re.search(r"authorization\W+bearer ?$", before))


def validate(rows: list[dict]) -> None:
    texts = set()
    for row in rows:
        text, cat, ents = row["text"], row["category"], row["entities"]
        assert text not in texts, f"duplicate text {row['id']}"
        texts.add(text)
        has_pem = any("-----BEGIN" in e["value"] for e in ents) or "-----BEGIN" in text
        assert 30 <= len(text) <= (1400 if has_pem else 700), (row["id"], len(text))
        assert cat in ("positive", "hard_negative", "split")
        if cat == "hard_negative":
            assert ents == [], row["id"]
        else:
            assert ents, row["id"]
        for e in ents:
            t, v = e["type"], e["value"]
            assert t in TYPES, t
            assert text.count(v) == 1, (row["id"], v)
            if t == "CREDIT_CARD":
                assert card_valid(v), v
            elif t == "IBAN_CODE":
                assert iban_valid(v), v
            elif t == "US_SSN":
                assert ssn_valid(v), v
            elif t == "PHONE_NUMBER":
                region = None if v.startswith("+") else next(r for p, r in PHONES if p == v)
                assert phone_valid(v, region), v
            elif t == "IP_ADDRESS":
                ipaddress.ip_address(v)
            elif t == "EMAIL_ADDRESS":
                assert re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", v), v
            elif t == "SECRET":
                assert _secret_ok(text, v), (row["id"], v)
        if cat == "split":
            chunks = row["chunks"]
            assert 2 <= len(chunks) <= 6 and all(chunks), row["id"]
            assert "".join(chunks) == text
            bounds, acc = [], 0
            for c in chunks[:-1]:
                acc += len(c)
                bounds.append(acc)
            spans = [(text.index(e["value"]), text.index(e["value"]) + len(e["value"])) for e in ents]
            assert any(a < b < z for a, z in spans for b in bounds), f"no entity cut in {row['id']}"
        else:
            assert "chunks" not in row

    counts = {t: 0 for t in TYPES}
    split_cut_types: set[str] = set()
    for row in rows:
        if row["category"] == "positive":
            for e in row["entities"]:
                counts[e["type"]] += 1
        if row["category"] == "split":
            acc, bounds = 0, []
            for c in row["chunks"][:-1]:
                acc += len(c)
                bounds.append(acc)
            for e in row["entities"]:
                s = row["text"].index(e["value"])
                if any(s < b < s + len(e["value"]) for b in bounds):
                    split_cut_types.add(e["type"])
    cats = [r["category"] for r in rows]
    assert len(rows) >= 250
    assert all(c >= 25 for c in counts.values()), counts
    assert cats.count("hard_negative") >= 70
    assert cats.count("split") >= 35
    assert split_cut_types == set(TYPES), split_cut_types


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the file differs from what would be written")
    args = ap.parse_args()
    content = render(build())
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else None
        if current != content:
            print(f"{OUT} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{OUT} is up to date")
        return 0
    OUT.write_text(content, encoding="utf-8")
    print(f"wrote {OUT} ({content.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

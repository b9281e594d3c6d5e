#!/usr/bin/env python3
"""Write tests/data/pii_corpus.jsonl, the labelled corpus for the PII/secret detector.

Each line is one text a user (or, for "split", a model streaming its answer)
might send through the gateway, with every sensitive value in it labelled:

    {"id": "email-017", "category": "positive", "text": "...",
     "entities": [{"type": "EMAIL_ADDRESS", "value": "jane.doe@acme.io"}]}

Categories:
  positive       texts with one or more sensitive values;
  hard_negative  look-alikes a careless regex would flag (order numbers that
                 fail Luhn, versions, timestamps, UUIDs, redacted text, invalid
                 SSNs, ...) with `entities: []`;
  split          short model answers with a `chunks` list: the text cut into
                 2-5 stream pieces, at least one labelled value cut across a
                 chunk boundary.

Entity types: EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, IP_ADDRESS,
US_SSN, SECRET. Card numbers pass Luhn, IBANs pass mod-97 with the right
length for their country, SSNs respect the SSA rules, phone numbers use real
numbering plans. Everything comes from a fixed seed and the standard library,
so the file is reproducible:

    python tests/data/make_pii_corpus.py           # rewrite the corpus
    python tests/data/make_pii_corpus.py --check   # exit 1 if it is out of date

The generator asserts its own labelling: every value occurs exactly once in its
text, checksums hold, split invariants hold, and a scan of each text with the
labelled values blanked out finds no other checksum-valid card, IBAN, SSN, IP
address, phone-shaped number, e-mail address or credential.
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import random
import re
import sys
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "pii_corpus.jsonl"
SEED = 20261123

TYPES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "SECRET",
)

# --------------------------------------------------------------------------
# Checksums and validity rules
# --------------------------------------------------------------------------


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_complete(partial: str) -> str:
    for c in "0123456789":
        if luhn_valid(partial + c):
            return partial + c
    raise AssertionError("unreachable")


IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "DE": 22, "DK": 18, "ES": 24, "FI": 18,
    "FR": 27, "GB": 22, "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15,
    "PL": 28, "PT": 25, "SE": 24,
}


def _iban_int(s: str) -> int:
    return int("".join(str(int(c, 36)) for c in s))


def iban_valid(iban: str) -> bool:
    s = iban.replace(" ", "")
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", s):
        return False
    if len(s) != IBAN_LENGTHS.get(s[:2], -1):
        return False
    return _iban_int(s[4:] + s[:4]) % 97 == 1


def iban_from_bban(cc: str, bban: str) -> str:
    check = 98 - _iban_int(bban + cc + "00") % 97
    iban = f"{cc}{check:02d}{bban}"
    assert iban_valid(iban), iban
    return iban


def ssn_valid(ssn: str) -> bool:
    m = re.fullmatch(r"(\d{3})[- ](\d{2})[- ](\d{4})", ssn)
    if not m:
        return False
    area, group, serial = m.groups()
    return (
        area not in ("000", "666")
        and not area.startswith("9")
        and group != "00"
        and serial != "0000"
    )


def ipv4_valid(s: str) -> bool:
    parts = s.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 for p in parts)


# --------------------------------------------------------------------------
# Word lists for filler text (none of it sensitive)
# --------------------------------------------------------------------------

FIRST = [
    "Jane", "Omar", "Priya", "Lukas", "Chloé", "Mateo", "Aisha", "Kenji",
    "Sofia", "Daniel", "Fatima", "Tom", "Ingrid", "Rahul", "Léa", "Marcus",
    "Yuki", "Hannah", "Diego", "Amara", "Felix", "Nina", "Arjun", "Elena",
    "Jonas", "Grace", "Mehmet", "Clara", "Samuel", "Zoe",
]
LAST = [
    "Doe", "Haddad", "Raman", "Becker", "Moreau", "García", "Okafor",
    "Tanaka", "Rossi", "Kim", "Nguyen", "Schulz", "Lindqvist", "Mehta",
    "Dubois", "Whitfield", "Sato", "Kowalski", "Ortega", "Mensah", "Vogel",
    "Petrova", "Iyer", "Costa", "Hartmann", "O'Brien", "Yilmaz", "Fischer",
    "Brooks", "Laurent",
]
COMPANIES = [
    "Northwind Traders", "Globex", "Initech", "Hooli", "Umbrella Logistics",
    "Vandelay Industries", "Acme Robotics", "Blue Harbor Foods", "Kestrel Labs",
    "Brightline Health", "Oakridge Properties", "Fabrikam", "Contoso",
    "Lumen Analytics", "Sunfield Energy",
]
CITIES = [
    "Lisbon", "Denver", "Osaka", "Leeds", "Lyon", "Hamburg", "Austin",
    "Porto", "Kraków", "Nairobi", "Montreal", "Bergen", "Seville", "Pune",
]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
]
EMAIL_DOMAINS = [
    "gmail.com", "outlook.com", "yahoo.co.uk", "web.de", "gmx.de", "orange.fr",
    "free.fr", "proton.me", "icloud.com", "acme.io", "northwind-traders.com",
    "eng.contoso.com", "mail.globex.co.uk", "fabrikam.de", "initech.io",
    "kestrel-labs.ai", "cs.ox.ac.uk", "tu-berlin.de", "brightline-health.org",
    "sunfield.energy", "lumen-analytics.com", "support.hooli.xyz",
    "oakridge.co.uk", "students.uni-heidelberg.de", "blueharbor.fr",
]
INSURERS = ["Aetna", "Cigna", "Kaiser Permanente", "Blue Cross", "Humana"]
TENANTS = ["acme-prod", "globex-eu", "initech-staging", "hooli-us", "kestrel"]
REPOS = ["acme/api", "globex/billing", "kestrel-labs/etl", "initech/tps-reports", "hooli/nucleus"]
HOSTS = ["acme.io", "globex.dev", "initech.cloud", "kestrel-labs.ai", "hooli.xyz"]

# --------------------------------------------------------------------------
# Value generators
# --------------------------------------------------------------------------

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
URLSAFE = ALNUM + "_-"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
US_AREA = [
    "212", "213", "202", "206", "214", "303", "305", "310", "312", "404",
    "415", "503", "512", "617", "646", "702", "713", "718", "917", "408",
    "650", "773", "858", "919",
]
PUBLIC_FIRST_OCTETS = [
    23, 31, 34, 45, 52, 62, 77, 84, 91, 104, 141, 151, 176, 185, 188, 193,
    195, 212, 213, 217,
]
IPV6_PREFIXES = [
    "2001:db8", "2a01:4f8", "2a02:c207", "2600:1f18", "2606:4700",
    "2a00:1450", "2404:6800", "2a03:2880", "2001:67c", "2620:10d",
]
DE_BANKS = ["37040044", "50010517", "10020890", "20041133", "70150000", "43060967", "12030000"]
GB_BANKS = [("NWBK", "601613"), ("BARC", "200000"), ("HBUK", "401276"), ("LOYD", "309634"), ("MIDL", "400515")]
FR_BANKS = [("30004", "00828"), ("30003", "03620"), ("20041", "01005"), ("30002", "00550"), ("10278", "06076")]
ES_BANKS = [("2100", "0418"), ("0049", "1500"), ("0182", "2370"), ("0081", "0216"), ("2085", "8301")]
NL_BANKS = ["ABNA", "INGB", "RABO", "TRIO", "SNSB"]
IT_BANKS = [("03069", "09606"), ("02008", "01664"), ("05034", "11701"), ("03062", "34210")]
CH_BANKS = ["00762", "00230", "04835", "09000", "00700"]

IT_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21]


class Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.used: set[str] = set()

    # -- primitives --------------------------------------------------------
    def digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def pick(self, seq):
        return self.rng.choice(seq)

    def unique(self, fn: Callable[[], str]) -> str:
        for _ in range(1000):
            v = fn()
            if v not in self.used:
                self.used.add(v)
                return v
        raise AssertionError("could not make a unique value")

    # -- EMAIL_ADDRESS -----------------------------------------------------
    def _local(self) -> str:
        f = self.pick(FIRST).lower().replace("é", "e").replace("'", "")
        l = self.pick(LAST).lower().replace("í", "i").replace("'", "")
        style = self.rng.randrange(7)
        if style == 0:
            return f"{f}.{l}"
        if style == 1:
            return f"{f}{l}{self.rng.randrange(2, 99)}"
        if style == 2:
            return f"{f[0]}.{l}"
        if style == 3:
            return f"{f}_{l}"
        if style == 4:
            return f"{f}-{l[0]}"
        if style == 5:
            return f"{l}.{f}{self.rng.randrange(1970, 2004)}"
        return f"{f}"

    def email(self) -> str:
        local = self._local()
        if self.rng.random() < 0.15:
            local += "+" + self.pick(["news", "billing", "github", "shop", "work", "test"])
        return f"{local}@{self.pick(EMAIL_DOMAINS)}"

    def email_plus(self) -> str:
        tag = self.pick(["newsletter", "orders", "receipts", "dev", "spam", "2fa"])
        return f"{self._local()}+{tag}@{self.pick(EMAIL_DOMAINS)}"

    # -- PHONE_NUMBER ------------------------------------------------------
    def _line(self) -> str:
        return f"{self.rng.randrange(10000):04d}"

    def phone_us(self) -> str:
        area = self.pick(US_AREA)
        while True:
            ex = self.pick("23456789") + self.digits(2)
            if ex[1:] != "11" and ex not in ("555", "976", "950", "958", "959"):
                break
        line = self._line()
        fmt = self.rng.randrange(5)
        if fmt == 0:
            return f"({area}) {ex}-{line}"
        if fmt == 1:
            return f"{area}-{ex}-{line}"
        if fmt == 2:
            return f"+1 {area} {ex} {line}"
        if fmt == 3:
            return f"{area}.{ex}.{line}"
        return f"+1-{area}-{ex}-{line}"

    def phone_uk(self) -> str:
        kind = self.rng.randrange(3)
        intl = self.rng.random() < 0.55
        if kind == 0:
            a, b = self.pick("378") + self.digits(3), self.digits(4)
            return f"+44 20 {a} {b}" if intl else f"020 {a} {b}"
        if kind == 1:
            a, b = self.pick("23456789") + self.digits(2), self.digits(4)
            return f"+44 161 {a} {b}" if intl else f"0161 {a} {b}"
        pre = self.pick(["7412", "7480", "7535", "7723", "7817", "7957", "7890", "7380"])
        rest = self.digits(6)
        return f"+44 {pre} {rest}" if intl else f"0{pre} {rest}"

    def phone_de(self) -> str:
        intl = self.rng.random() < 0.65
        if self.rng.random() < 0.6:
            city = self.pick(["30", "89", "40", "69", "221"])
            n = self.pick("123456789") + self.digits(self.pick([6, 7]))
            sub = n if self.rng.random() < 0.5 else f"{n[:len(n) // 2]} {n[len(n) // 2:]}"
            return f"+49 {city} {sub}" if intl else f"0{city} {sub}"
        pre = self.pick(["151", "152", "157", "160", "162", "170", "171", "176"])
        n = self.digits(8) if pre.startswith("15") else self.digits(self.pick([7, 8]))
        sub = n if self.rng.random() < 0.5 else f"{n[:4]} {n[4:]}"
        return f"+49 {pre} {sub}" if intl else f"0{pre} {sub}"

    def phone_fr(self) -> str:
        kind = self.rng.randrange(4)
        if kind == 0:
            head = "1" + self.digits(1)
        elif kind == 1:
            head = "3" + self.digits(1)
        elif kind == 2:
            head = "4" + self.pick("123456789")
        else:
            head = self.pick(["6" + self.pick("0124678"), "7" + self.pick("3456789")])
        rest = self.digits(7)
        pairs = [head[1] + rest[0], rest[1:3], rest[3:5], rest[5:7]]
        if self.rng.random() < 0.6:
            return f"+33 {head[0]} " + " ".join(pairs)
        return f"0{head[0]} " + " ".join(pairs)

    def phone_in(self) -> str:
        if self.rng.random() < 0.8:
            n = self.pick("6789") + self.digits(9)
            return f"+91 {n[:5]} {n[5:]}"
        n = self.digits(8)
        return f"+91 80 {n[:4]} {n[4:]}"

    def phone(self) -> str:
        r = self.rng.random()
        if r < 0.42:
            return self.phone_us()
        if r < 0.58:
            return self.phone_uk()
        if r < 0.74:
            return self.phone_de()
        if r < 0.88:
            return self.phone_fr()
        return self.phone_in()

    # -- CREDIT_CARD -------------------------------------------------------
    def _format_card(self, number: str) -> str:
        r = self.rng.random()
        if len(number) == 15:
            groups = [number[:4], number[4:10], number[10:]]
        else:
            groups = [number[i:i + 4] for i in range(0, len(number), 4)]
        if r < 0.4:
            return number
        if r < 0.75:
            return " ".join(groups)
        return "-".join(groups)

    def card_visa(self) -> str:
        return self._format_card(luhn_complete("4" + self.digits(14)))

    def card_mc(self) -> str:
        if self.rng.random() < 0.7:
            prefix = f"5{self.rng.randint(1, 5)}"
        else:
            prefix = str(self.rng.randint(2221, 2720))
        return self._format_card(luhn_complete(prefix + self.digits(15 - len(prefix))))

    def card_amex(self) -> str:
        prefix = self.pick(["34", "37"])
        return self._format_card(luhn_complete(prefix + self.digits(12)))

    def card_discover(self) -> str:
        return self._format_card(luhn_complete("6011" + self.digits(11)))

    def card(self) -> str:
        r = self.rng.random()
        if r < 0.4:
            return self.card_visa()
        if r < 0.7:
            return self.card_mc()
        if r < 0.87:
            return self.card_amex()
        return self.card_discover()

    # -- IBAN_CODE ---------------------------------------------------------
    def _bban(self, cc: str) -> str:
        if cc == "DE":
            return self.pick(DE_BANKS) + self.digits(10)
        if cc == "GB":
            bank, sort = self.pick(GB_BANKS)
            return bank + sort + self.digits(8)
        if cc == "FR":
            bank, branch = self.pick(FR_BANKS)
            account = self.digits(11)
            key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
            return f"{bank}{branch}{account}{key:02d}"
        if cc == "ES":
            bank, branch = self.pick(ES_BANKS)
            account = self.digits(10)
            weights = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]

            def dc(s: str) -> str:
                d = 11 - sum(int(c) * w for c, w in zip(s, weights)) % 11
                return "0" if d == 11 else "1" if d == 10 else str(d)

            return bank + branch + dc("00" + bank + branch) + dc(account) + account
        if cc == "NL":
            while True:  # the old Dutch "elfproef" on the account number
                account = self.pick("123456789") + self.digits(9)
                if sum(int(c) * w for c, w in zip(account, range(10, 0, -1))) % 11 == 0:
                    return self.pick(NL_BANKS) + account
        if cc == "IT":
            abi, cab = self.pick(IT_BANKS)
            account = "0000" + self.digits(8)
            body = abi + cab + account
            total = sum(IT_ODD[int(c)] if i % 2 == 0 else int(c) for i, c in enumerate(body))
            return chr(ord("A") + total % 26) + body
        if cc == "CH":
            return self.pick(CH_BANKS) + self.digits(12)
        raise KeyError(cc)

    def iban(self, cc: str | None = None, grouped: bool | None = None) -> str:
        cc = cc or self.pick(["DE", "GB", "FR", "ES", "NL", "IT", "CH"])
        value = iban_from_bban(cc, self._bban(cc))
        assert len(value) == IBAN_LENGTHS[cc]
        if grouped is None:
            grouped = self.rng.random() < 0.55
        if grouped:
            value = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
        return value

    # -- IP_ADDRESS --------------------------------------------------------
    def ipv4(self) -> str:
        r = self.rng.random()
        if r < 0.3:
            net = self.pick(["203.0.113", "198.51.100", "192.0.2"])
            return f"{net}.{self.rng.randint(2, 254)}"
        first = self.pick(PUBLIC_FIRST_OCTETS)
        return f"{first}.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}"

    def _ipv6_addr(self) -> ipaddress.IPv6Address:
        prefix = self.pick(IPV6_PREFIXES).split(":")
        groups = [int(g, 16) for g in prefix]
        rest = [self.rng.randrange(0x10000) for _ in range(8 - len(groups))]
        # most real addresses have a run of zero groups somewhere
        if self.rng.random() < 0.75:
            start = self.rng.randrange(0, len(rest) - 2)
            for i in range(start, start + self.rng.randint(2, 3)):
                if i < len(rest):
                    rest[i] = 0
        # small trailing groups, as in ...::8a2e:370:7334 or ...::1
        if self.rng.random() < 0.4:
            rest[-1] = self.rng.randrange(1, 0x100)
        groups += rest
        return ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))

    def ipv6(self) -> str:
        addr = self._ipv6_addr()
        if self.rng.random() < 0.2:
            return addr.exploded
        return addr.compressed

    def ipv6_full(self) -> str:
        return self._ipv6_addr().exploded

    def ip(self) -> str:
        return self.ipv6() if self.rng.random() < 0.35 else self.ipv4()

    # -- US_SSN ------------------------------------------------------------
    def ssn(self) -> str:
        while True:
            area = self.rng.randint(1, 899)
            if area == 666:
                continue
            group = self.rng.randint(1, 99)
            serial = self.rng.randint(1, 9999)
            digits = f"{area:03d}{group:02d}{serial:04d}"
            if len(set(digits)) < 5:
                continue
            if digits in "0123456789" or digits in "9876543210":
                continue
            if digits in ("078051120", "219099999", "457555462"):
                continue
            sep = " " if self.rng.random() < 0.2 else "-"
            value = f"{digits[:3]}{sep}{digits[3:5]}{sep}{digits[5:]}"
            assert ssn_valid(value)
            return value

    # -- SECRET ------------------------------------------------------------
    def openai(self) -> str:
        if self.rng.random() < 0.5:
            return "sk-" + self.chars(ALNUM, 20) + "T3BlbkFJ" + self.chars(ALNUM, 20)
        return "sk-" + self.chars(ALNUM, 48)

    def openai_proj(self) -> str:
        if self.rng.random() < 0.4:
            return "sk-proj-" + self.chars(ALNUM, 48)
        n = self.rng.randint(56, 74)
        return "sk-proj-" + self.chars(URLSAFE, n) + "T3BlbkFJ" + self.chars(URLSAFE, n)

    def anthropic(self) -> str:
        return "sk-ant-api03-" + self.chars(URLSAFE, 93) + "AA"

    def aws_id(self) -> str:
        return "AKIA" + self.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)

    def aws_secret(self) -> str:
        return self.chars(ALNUM + "/+", 40)

    def github(self) -> str:
        body = self.chars(ALNUM, 30)
        crc = zlib.crc32(body.encode())
        tail = ""
        while crc:
            crc, r = divmod(crc, 62)
            tail = BASE62[r] + tail
        return "ghp_" + body + tail.rjust(6, "0")

    def github_pat(self) -> str:
        return "github_pat_" + self.chars(ALNUM, 22) + "_" + self.chars(ALNUM, 59)

    def slack(self) -> str:
        return f"xoxb-{self.pick('123456789')}{self.digits(self.rng.randint(9, 11))}-{self.pick('123456789')}{self.digits(12)}-{self.chars(ALNUM, 24)}"

    def google(self) -> str:
        return "AIzaSy" + self.chars(URLSAFE, 33)

    def _b64url(self, obj) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def jwt(self) -> str:
        alg = self.pick(["HS256", "ES256", "EdDSA"])
        header = {"alg": alg, "typ": "JWT"}
        if alg != "HS256":
            header["kid"] = self.chars("abcdef0123456789", 16)
        iat = 1763900000 + self.rng.randrange(5_000_000)
        payload = {
            "sub": "usr_" + self.chars(ALNUM, 12),
            "iat": iat,
            "exp": iat + self.pick([900, 3600, 86400]),
            "scope": self.pick(["orders:read", "admin", "chat:write files:read", "openid profile"]),
        }
        sig_len = {"HS256": 43, "ES256": 86, "EdDSA": 86}[alg]
        return f"{self._b64url(header)}.{self._b64url(payload)}.{self.chars(URLSAFE, sig_len)}"

    def bearer(self) -> str:
        r = self.rng.random()
        if r < 0.3:
            return "ya29.a0" + self.chars(URLSAFE, self.rng.randint(60, 90))
        if r < 0.5:
            return self.jwt()
        return self.chars(ALNUM, self.rng.randint(32, 56))

    def _pem(self, label: str, der_prefix: bytes, total: int, width: int) -> str:
        body = base64.b64encode(der_prefix + self.rng.randbytes(total - len(der_prefix))).decode()
        lines = [body[i:i + width] for i in range(0, len(body), width)]
        return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"

    def pem_rsa(self) -> str:
        prefix = bytes.fromhex("308204a40201000282010100")  # MIIEpAIBAAKCAQEA
        return self._pem("RSA PRIVATE KEY", prefix, self.rng.randint(5, 8) * 48 + self.rng.randint(6, 40), 64)

    def pem_pkcs8(self) -> str:
        prefix = bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7308204a30201000282010100")
        return self._pem("PRIVATE KEY", prefix, self.rng.randint(5, 8) * 48 + self.rng.randint(6, 40), 64)

    def pem_openssh(self) -> str:
        prefix = (
            b"openssh-key-v1\x00\x00\x00\x00\x04none\x00\x00\x00\x04none\x00\x00\x00\x00"
            b"\x00\x00\x00\x01\x00\x00\x00\x33\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
        )
        total = 210 + self.rng.randrange(0, 60, 3)
        return self._pem("OPENSSH PRIVATE KEY", prefix, total, 70)

    # -- look-alikes for the hard negatives --------------------------------
    def luhn_failing(self, prefix: str, length: int) -> str:
        while True:
            n = prefix + self.digits(length - len(prefix))
            if not luhn_valid(n):
                return n

    def order16(self) -> str:
        n = self.luhn_failing(self.pick(["4532", "4916", "5412", "5500", "6011", "4024", "2221"]), 16)
        return "-".join(n[i:i + 4] for i in range(0, 16, 4))

    def track16(self) -> str:
        return self.luhn_failing(self.pick(["9400", "1Z", "4201", "7489", "9205"]).replace("1Z", "1"), 16)

    def card_spaced_bad(self) -> str:
        n = self.luhn_failing(self.pick(["4", "51", "55", "37", "6011"]), 16)
        return " ".join(n[i:i + 4] for i in range(0, 16, 4))

    def isbn13(self) -> str:
        while True:
            body = "978" + self.digits(9)
            check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
            n = body + str(check)
            if not luhn_valid(n):
                return f"{n[:3]}-{n[3]}-{n[4:7]}-{n[7:12]}-{n[12]}"

    def ean13(self) -> str:
        while True:
            body = "400" + self.digits(9)
            check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
            n = body + str(check)
            if not luhn_valid(n):
                return n

    def bad_iban(self) -> str:
        cc = self.pick(["DE", "GB", "FR", "NL", "ES"])
        good = iban_from_bban(cc, self._bban(cc))
        while True:
            i = self.rng.randrange(4, len(good))
            if not good[i].isdigit():
                continue
            bad = good[:i] + str((int(good[i]) + self.rng.randint(1, 9)) % 10) + good[i + 1:]
            grouped = " ".join(bad[j:j + 4] for j in range(0, len(bad), 4))
            if not iban_valid(bad) and not luhn_runs(grouped):
                return grouped

    def uuid(self) -> str:
        h = self.chars("0123456789abcdef", 32)
        h = h[:12] + "4" + h[13:16] + self.pick("89ab") + h[17:]
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def hexstr(self, n: int) -> str:
        return self.chars("0123456789abcdef", n)

    def timestamp(self) -> str:
        return (
            f"2026-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"
            f"T{self.rng.randint(0, 23):02d}:{self.rng.randint(0, 59):02d}:{self.rng.randint(0, 59):02d}Z"
        )


# Entity slots: {NAME} or {NAME#2} in a template. The same slot twice in one
# template means the same value (templates avoid that: every labelled value
# must occur exactly once).
ENTITY_SLOTS: dict[str, tuple[str, Callable[[Gen], str]]] = {
    "EMAIL": ("EMAIL_ADDRESS", Gen.email),
    "EMAIL_PLUS": ("EMAIL_ADDRESS", Gen.email_plus),
    "PHONE": ("PHONE_NUMBER", Gen.phone),
    "PHONE_US": ("PHONE_NUMBER", Gen.phone_us),
    "PHONE_UK": ("PHONE_NUMBER", Gen.phone_uk),
    "PHONE_DE": ("PHONE_NUMBER", Gen.phone_de),
    "PHONE_FR": ("PHONE_NUMBER", Gen.phone_fr),
    "PHONE_IN": ("PHONE_NUMBER", Gen.phone_in),
    "CARD": ("CREDIT_CARD", Gen.card),
    "CARD_VISA": ("CREDIT_CARD", Gen.card_visa),
    "CARD_MC": ("CREDIT_CARD", Gen.card_mc),
    "CARD_AMEX": ("CREDIT_CARD", Gen.card_amex),
    "CARD_DISCOVER": ("CREDIT_CARD", Gen.card_discover),
    "IBAN": ("IBAN_CODE", lambda g: g.iban()),
    "IBAN_COMPACT": ("IBAN_CODE", lambda g: g.iban(grouped=False)),
    "IBAN_GROUPED": ("IBAN_CODE", lambda g: g.iban(grouped=True)),
    "IBAN_DE": ("IBAN_CODE", lambda g: g.iban("DE")),
    "IBAN_GB": ("IBAN_CODE", lambda g: g.iban("GB")),
    "IBAN_FR": ("IBAN_CODE", lambda g: g.iban("FR")),
    "IBAN_ES": ("IBAN_CODE", lambda g: g.iban("ES")),
    "IBAN_NL": ("IBAN_CODE", lambda g: g.iban("NL")),
    "IBAN_IT": ("IBAN_CODE", lambda g: g.iban("IT")),
    "IBAN_CH": ("IBAN_CODE", lambda g: g.iban("CH")),
    "IP": ("IP_ADDRESS", Gen.ip),
    "IP4": ("IP_ADDRESS", Gen.ipv4),
    "IP6": ("IP_ADDRESS", Gen.ipv6),
    "IP6_FULL": ("IP_ADDRESS", Gen.ipv6_full),
    "SSN": ("US_SSN", Gen.ssn),
    "OPENAI": ("SECRET", Gen.openai),
    "OPENAI_PROJ": ("SECRET", Gen.openai_proj),
    "ANTHROPIC": ("SECRET", Gen.anthropic),
    "AWS_ID": ("SECRET", Gen.aws_id),
    "AWS_SECRET": ("SECRET", Gen.aws_secret),
    "GITHUB": ("SECRET", Gen.github),
    "GITHUB_PAT": ("SECRET", Gen.github_pat),
    "SLACK": ("SECRET", Gen.slack),
    "GOOGLE": ("SECRET", Gen.google),
    "BEARER": ("SECRET", Gen.bearer),
    "JWT": ("SECRET", Gen.jwt),
    "PEM_RSA": ("SECRET", Gen.pem_rsa),
    "PEM_PKCS8": ("SECRET", Gen.pem_pkcs8),
    "PEM_OPENSSH": ("SECRET", Gen.pem_openssh),
}


def _name(g: Gen) -> str:
    return f"{g.pick(FIRST)} {g.pick(LAST)}"


# Filler slots: {name} etc. Values that are never sensitive.
FILLERS: dict[str, Callable[[Gen], str]] = {
    "first": lambda g: g.pick(FIRST),
    "last": lambda g: g.pick(LAST),
    "name": _name,
    "company": lambda g: g.pick(COMPANIES),
    "city": lambda g: g.pick(CITIES),
    "month": lambda g: g.pick(MONTHS),
    "insurer": lambda g: g.pick(INSURERS),
    "tenant": lambda g: g.pick(TENANTS),
    "repo": lambda g: g.pick(REPOS),
    "host": lambda g: g.pick(HOSTS),
    "date": lambda g: f"{g.pick(MONTHS)} {g.rng.randint(1, 28)}",
    "date_fr": lambda g: f"{g.rng.randint(1, 28)} {g.pick(['janvier', 'mars', 'avril', 'juin', 'septembre', 'novembre'])}",
    "dob": lambda g: f"{g.rng.randint(1950, 2004)}-{g.rng.randint(1, 12):02d}-{g.rng.randint(1, 28):02d}",
    "time": lambda g: f"{g.rng.randint(0, 23):02d}:{g.rng.randint(0, 59):02d}",
    "ts": Gen.timestamp,
    "syslog_ts": lambda g: f"Nov {g.rng.randint(10, 28)} {g.rng.randint(0, 23):02d}:{g.rng.randint(0, 59):02d}:{g.rng.randint(0, 59):02d}",
    "amount": lambda g: g.pick(["$", "€", "£"]) + f"{g.rng.randint(12, 4999)}.{g.rng.choice(['00', '50', '99', '90', '25'])}",
    "exp": lambda g: f"{g.rng.randint(1, 12):02d}/{g.rng.randint(27, 31)}",
    "zip": lambda g: f"{g.rng.randint(10001, 98999)}",
    "n": lambda g: str(g.rng.randint(1000, 99999)),
    "pid": lambda g: str(g.rng.randint(900, 65000)),
    "port": lambda g: str(g.rng.randint(40000, 65000)),
    "ticket": lambda g: f"SUP-{g.rng.randint(10000, 99999)}",
    "invoice": lambda g: f"RE-2026-{g.rng.randint(1, 999):04d}",
    "ref": lambda g: f"INV-2026-{g.rng.randint(1, 999):04d}",
    "user": lambda g: g.pick(FIRST).lower()[0] + g.pick(LAST).lower().replace("'", "").replace("í", "i"),
    # hard-negative look-alikes
    "order16": Gen.order16,
    "track16": Gen.track16,
    "card_bad": Gen.card_spaced_bad,
    "isbn13": Gen.isbn13,
    "ean13": Gen.ean13,
    "bad_iban": Gen.bad_iban,
    "uuid": Gen.uuid,
    "sha": lambda g: g.hexstr(40),
    "sha7": lambda g: g.hexstr(7),
    "sha256": lambda g: g.hexstr(64),
    "md5": lambda g: g.hexstr(32),
    "md5b": lambda g: g.hexstr(32),
    "hex1": lambda g: "#" + g.hexstr(6),
    "hex2": lambda g: "#" + g.hexstr(6).upper(),
    "n4": lambda g: f"{g.rng.randint(1, 9999):04d}",
    "jira": lambda g: f"{g.pick(['PLAT', 'PAY', 'OPS', 'WEB'])}-{g.rng.randint(100, 9999)}",
}

SLOT_RE = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)(?:#(\d+))?\}")


def fill(g: Gen, template: str) -> tuple[str, list[dict[str, str]]]:
    values: dict[tuple[str, str], str] = {}
    entities: list[dict[str, str]] = []

    def repl(m: re.Match[str]) -> str:
        name, idx = m.group(1), m.group(2) or ""
        key = (name, idx)
        if key not in values:
            if name in ENTITY_SLOTS:
                etype, fn = ENTITY_SLOTS[name]
                value = g.unique(lambda: fn(g))
                entities.append({"type": etype, "value": value})
            elif name in FILLERS:
                value = FILLERS[name](g)
            else:
                return m.group(0)  # literal braces, e.g. ${OPENAI_API_KEY}
            values[key] = value
        return values[key]

    text = SLOT_RE.sub(repl, template)
    entities.sort(key=lambda e: text.index(e["value"]))
    return text, entities


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------

EMAIL_T = [
    "Hi, I can't log in anymore. My account email is {EMAIL} and the reset link never arrives. Can you check whether it's bouncing?",
    "Please update the billing contact for {company} to {EMAIL} — the old address is no longer monitored.",
    "Draft a polite reply to {EMAIL#1} saying we'll ship the replacement by Friday, and cc {EMAIL#2}.",
    "From: {name} <{EMAIL}>\nSubject: Re: contract renewal\n\nThanks, attached is the signed copy. Let me know if anything is missing.",
    "git log shows commits authored by {EMAIL} that I don't recognise. How do I rewrite the author on the last three commits?",
    "Can you summarise this thread? The customer ({EMAIL}) says the invoice total is wrong and wants a call back.",
    "Translate into German: 'For questions about your order, write to {EMAIL}.'",
    "Bitte schick die Unterlagen an {EMAIL}, ich bin ab Montag wieder im Büro.",
    "Merci de répondre à {EMAIL} avant vendredi, c'est l'adresse de la comptable.",
    "Our Postgres users table has a row with email = '{EMAIL}' that violates the unique index. Why would that happen after a case-insensitive migration?",
    "[{time}] WARN smtp: delivery to {EMAIL} deferred: 451 4.7.1 greylisted, retrying in 300s",
    "Write a unit test for my email validator. It should accept {EMAIL#1} and {EMAIL#2} but reject plain words.",
    "I signed up twice by mistake, once with {EMAIL#1} and once with {EMAIL#2}. Can you merge the two accounts?",
    "My manager asked me to forward the quarterly report to {EMAIL}. Is a PDF under 10 MB fine as an attachment?",
    'The webhook payload is {"user": {"email": "{EMAIL}", "plan": "pro"}} and I need to parse it in Go. Which struct tags do I use?',
    "Reminder for {first}: the dentist's office confirmed by mail, reply to {EMAIL} if you need to reschedule.",
    'How do I set the git identity for this repo only? I tried git config user.email "{EMAIL}" but the commits still show my work address.',
    "Our newsletter tool rejected {EMAIL_PLUS} as invalid because of the plus sign. Is a '+' legal in the local part?",
    "Send the onboarding checklist to the new hire, {name}, at {EMAIL}. Start date is {date}.",
    "Why does Outlook mark mail from {EMAIL} as spam? SPF and DKIM both pass.",
    "Contact for the incident: {name} ({EMAIL}), on call until {time} UTC.",
    "Please unsubscribe {EMAIL} from all marketing lists. This is a GDPR erasure request.",
    "Customer wrote: 'I've been waiting two weeks. Reach me at {EMAIL} or don't bother.' Suggest a de-escalating response.",
    "LDAP lookup returned mail={EMAIL} for uid {user}, but the HR system has a different address. Which one wins?",
    "Can you fix the alignment in my signature?\n{name} | Product Lead | {company}\n{EMAIL}",
    "Hallo Support, meine neue E-Mail-Adresse lautet {EMAIL}. Die alte bitte löschen.",
    "Bonjour, je n'arrive pas à changer mon adresse : le site refuse {EMAIL} alors qu'elle fonctionne.",
    "Mailing list export:\n{EMAIL#1}\n{EMAIL#2}\n{EMAIL#3}\nRemove duplicates and sort them alphabetically.",
    "Write a short LinkedIn message to {first} asking for a referral; mention they can answer at {EMAIL}.",
    "The CSV row is: {first},{last},{EMAIL},{city}. Why does pandas read it as the header?",
    "Mail bounced for <{EMAIL}>: 550 5.1.1 The email account that you tried to reach does not exist. Did they leave the company?",
    "Add {EMAIL} as a reviewer on the pull request and tell them the deadline is {date}.",
    "Ticket {ticket}: requester {EMAIL} cannot see the shared drive after the migration.",
    "For the conference badge please print: {name}, {company}, {EMAIL}.",
]

PHONE_T = [
    "Call me back at {PHONE_US} after 5pm, I'm in meetings all afternoon.",
    "My phone number changed to {PHONE}. Please update it in my profile so the 2FA texts arrive.",
    "Our London office can be reached on {PHONE_UK} during business hours.",
    "Bitte rufen Sie mich unter {PHONE_DE} zurück, am besten vormittags.",
    "Vous pouvez me joindre au {PHONE_FR} jusqu'à 18h.",
    "The delivery guy needs to call {PHONE_IN} when he reaches the gate, the bell is broken.",
    "Format these numbers consistently as E.164: {PHONE#1}, {PHONE#2}.",
    "The SMS to {PHONE} failed with Twilio error 21610. What does that mean?",
    "Emergency contact: {name}, {PHONE}. Allergies: none.",
    "Write a voicemail greeting that tells callers to try my mobile, {PHONE}, if it's urgent.",
    "Customer record:\nName: {name}\nPhone: {PHONE}\nPlan: Business\nWhy does the CRM say the phone field is invalid?",
    "Text {PHONE_US} when the nightly build finishes. Can you show me how with the Twilio Python SDK?",
    "Reservation for four at 8pm under {last}, phone {PHONE}.",
    "The landlord's number is {PHONE_UK}; he said to call rather than email about the boiler.",
    "I keep getting spam calls from {PHONE_US}. How do I block it on Android?",
    "Can you put '{PHONE_US}' into the format our letterhead uses, with the area code in brackets?",
    "Interview scheduled with {name} on {date}; she asked us to call {PHONE} instead of using Zoom.",
    "The support hotline printed on the box, {PHONE_DE}, just plays a busy tone.",
    'phone_number = "{PHONE}"  # why does phonenumbers.parse raise NumberParseException here?',
    "Please forward my calls to {PHONE} while I'm travelling next week.",
    "Our WhatsApp business number is {PHONE_IN}; can customers message it from abroad?",
    "Le numéro du cabinet a changé, c'est désormais le {PHONE_FR}. Pouvez-vous mettre à jour la fiche ?",
    "Unter {PHONE_DE} erreichen Sie unseren Bereitschaftsdienst rund um die Uhr.",
    "Caller ID showed {PHONE_UK} but nobody spoke. Is this a known scam pattern?",
    "Add a footer to the email: 'Questions? Call {PHONE_US} or reply to this message.'",
    "Pickup contact for the shipment is {first} on {PHONE}; the loading dock opens at 7.",
    "Two numbers on file for the same client: {PHONE#1} and {PHONE#2}. Which one should be primary?",
    "Validate this in JavaScript: does '{PHONE}' match our phone input mask?",
    "Hi, this is {first}. Sorry I missed your call, you can reach me directly at {PHONE}.",
    "Summarise the voicemail: 'Hey, it's {first} from the garage, your car is ready, call us on {PHONE} to arrange pickup.'",
    "The hotel front desk number is {PHONE_FR} in case the check-in code doesn't work.",
    "I need a script that dials {PHONE_US} via Asterisk and plays a recorded message.",
    "My daughter's school changed its number to {PHONE_UK}, can you add it to my contacts list?",
    "Für Rückfragen stehe ich Ihnen unter {PHONE_DE} gerne zur Verfügung.\nMit freundlichen Grüßen\n{name}",
]

CARD_T = [
    "I was charged twice on my card {CARD}. Can you refund one of the payments?",
    "Why did Stripe decline {CARD}? The expiry is {exp} and the billing address matches.",
    "Please update my payment method to the new Mastercard, {CARD_MC}.",
    "My Amex {CARD_AMEX} was flagged for fraud while I was abroad; how do I unlock it?",
    "Test my Luhn function with {CARD} — it should return true.",
    "Order form submitted:\nName: {name}\nCard: {CARD}\nExpiry: {exp}\nWhy does the confirmation page show the whole number?",
    "Ich habe meine Kreditkarte {CARD} verloren. Wie sperre ich sie am schnellsten?",
    "J'ai payé avec la carte {CARD} mais la commande n'apparaît pas dans mon compte.",
    "The log line leaked a PAN: payment_attempt card={CARD} amount={amount} status=declined. How do I mask it in logback?",
    "Is {CARD_DISCOVER} a Discover or a Diners card? The first digits confuse me.",
    "Please put the hotel deposit on {CARD}, name on card {name}.",
    "My corporate card {CARD_VISA} keeps getting declined at gas stations. Is there a merchant category block?",
    "Can you write a SQL query that finds rows where card_number = '{CARD}' in the payments table?",
    "The renewal email shows my full card number, {CARD}, instead of the last four digits. Is that normal?",
    "Chargeback dispute: the customer used {CARD} on {date} for {amount}. Draft the response letter.",
    "For the booking use my Visa {CARD_VISA}, expiry {exp}.",
    "How do I tokenize {CARD} with the Adyen API instead of sending it raw?",
    "My card {CARD_MC} shows a pending transaction from a merchant I don't know.",
    'Unit test fixture: {"pan": "{CARD}", "exp_month": 4, "exp_year": 2029} — is it OK to commit this?',
    "Card details for the team lunch: {CARD}, billing ZIP {zip}.",
    "Bitte buchen Sie die Jahresgebühr von der Karte {CARD} ab, nicht vom Girokonto.",
    "The PDF invoice printed the card as {CARD} instead of masking it. Which library setting controls that?",
    "I entered {CARD} at checkout and got 'invalid card number'. Did I mistype a digit?",
    "Add this card to my wallet: {CARD_AMEX}, expires {exp}.",
    "Refund to the original payment method please ({CARD}). Order was cancelled within the 14 days.",
    "My old card {CARD#1} expired, the new one is {CARD#2}. Please switch the recurring billing.",
    "Help me write a Python regex that extracts card numbers like {CARD} from support tickets.",
    "The fraud alert text said my card {CARD} was used in {city}. I have never been there.",
    "We store {CARD} and thousands like it in plain text in the orders table — what's the fastest path to PCI compliance?",
    "Ma carte bancaire {CARD_VISA} a été avalée par le distributeur, que faire ?",
    "customer_id={n} pan={CARD} avs=Y cvv_result=M — is it safe to ship this log to Datadog?",
    "Gift for mom: charge it to {CARD_MC} and deliver to her place by {date}.",
    "Can you check if {CARD_DISCOVER} is a valid number before I type it into the form?",
]

IBAN_T = [
    "Please transfer the deposit to IBAN {IBAN}, reference {ref}.",
    "Bitte überweisen Sie den Betrag auf folgendes Konto: {IBAN_DE}, Verwendungszweck Rechnung {invoice}.",
    "Veuillez effectuer le virement sur le compte {IBAN_FR} avant le {date_fr}.",
    "My salary should go to {IBAN} from next month; the old account is closed.",
    "Is {IBAN} a valid IBAN? The bank's form keeps rejecting it.",
    "The supplier changed their bank details to {IBAN}. Draft an email asking them to confirm by phone, this could be fraud.",
    "SEPA XML: <IBAN>{IBAN_COMPACT}</IBAN> — why does the validator complain about the BIC element that follows?",
    "Our Dutch landlord wants the rent paid to {IBAN_NL}. Does a transfer from Germany need a BIC?",
    "Refund to my Spanish account please: {IBAN_ES}.",
    "Pago de la factura {invoice}: cuenta {IBAN_ES}, titular {name}.",
    "Can you write a Python function that validates IBANs? Test it with {IBAN}.",
    "Account holder: {name}\nIBAN: {IBAN}\nPlease set up the standing order for the 1st of each month.",
    "The UK supplier sent {IBAN_GB} for the invoice. Is their sort code embedded in it?",
    "Ich habe versehentlich an {IBAN} statt an unser Geschäftskonto überwiesen. Kann ich das zurückholen?",
    "Pour le prélèvement, voici mon RIB au format IBAN : {IBAN_FR}.",
    "Payroll file row: {last};{first};{IBAN_COMPACT};{amount}. Why does the bank reject the whole batch?",
    "A Swiss client pays from {IBAN_CH}; do we need a different SEPA scheme?",
    "Il bonifico va fatto sull'IBAN {IBAN_IT}, intestato a {name}.",
    "Please double check the IBAN in this invoice footer: {company} · {IBAN} · VAT registered.",
    "Two IBANs are on file, {IBAN#1} and {IBAN#2}. Which is the one for reimbursements?",
    "Transfer failed: 'beneficiary account {IBAN} closed'. What should I tell the customer?",
    "Mandate reference {ref}, debtor IBAN {IBAN}, creditor {company}. Is the mandate complete?",
    "Expense reimbursement for {first}: {amount} to {IBAN}.",
    "My bank app shows {IBAN_DE} as my account; how do I find the BIC for it?",
    "Donations can be made to {IBAN}. Thank you for supporting the club!",
    "Write a friendly reminder that rent for {month} is due and goes to {IBAN_NL} as usual.",
    "Kontoverbindung: {IBAN_DE}, Kontoinhaber {name}. Bitte in die Stammdaten übernehmen.",
    'In our Java code new Iban("{IBAN_COMPACT}") throws InvalidCheckDigitException, but online validators say it is fine.',
    "Tuition must be paid to {IBAN_IT} with the student number in the reference.",
    "The customer asked to split the refund: half to {IBAN#1}, half to their partner's account {IBAN#2}.",
    "Le locataire a changé de banque, nouveau compte : {IBAN}.",
    "Hi, for the freelance invoice my details are {name}, {IBAN_GB}. Net 30 is fine.",
    "Extract the IBAN from this text and tell me the country: 'Zahlbar innerhalb 14 Tagen auf {IBAN}.'",
]

IP_T = [
    "Our nginx access log shows thousands of requests from {IP4} in the last hour. How do I rate-limit just that client?",
    "Why can't I SSH to {IP4}? Ping works but port 22 times out.",
    "{syslog_ts} bastion sshd[{pid}]: Failed password for invalid user admin from {IP4} port {port} ssh2",
    "Whitelist {IP4#1} and {IP4#2} in the security group, those are our office egress addresses.",
    "The DNS record for the API points to {IP4}, but curl resolves something else. How do I flush the cache on macOS?",
    "Add an AAAA record for {IP6} and tell me how long propagation usually takes.",
    "Our server's IPv6 address is {IP6} but it isn't reachable from outside. Is there a firewall rule I'm missing?",
    "Fail2ban banned {IP} — that's my home connection. How do I unban it?",
    "Meine Fritzbox zeigt die öffentliche IP {IP4}, aber die Portfreigabe auf 443 funktioniert nicht.",
    "Le serveur {IP4} ne répond plus depuis la mise à jour du noyau.",
    "X-Forwarded-For: {IP4#1}, {IP4#2}\nWhich one is the real client address?",
    "ssh -i ~/.ssh/id_ed25519 deploy@{IP4} hangs at 'expecting SSH2_MSG_KEX_ECDH_REPLY'. MTU problem?",
    "nmap says {IP4} has ports 80 and 8443 open. Is that an issue for a public host?",
    "listen [{IP6}]:443 ssl; — nginx fails to start with 'cannot assign requested address'.",
    "Can you explain how {IP6_FULL} is shortened to its compressed form?",
    "Block {IP6} in iptables... I mean ip6tables. What's the exact command?",
    "The Grafana alert fired for host {IP4}: CPU above 95% for 10 minutes.",
    "Our VPN gives me {IP4} as the exit address, but geolocation sites think I'm in another country.",
    "upstream backend { server {IP4}:8080 max_fails=3; } — requests still go to the dead node.",
    "{ts} ERROR connection reset by peer remote={IP6} stream=42",
    "Is {IP4} inside the range we allowed, or do I need to widen the rule?",
    "The customer's webhook calls come from {IP4}; please add it to the allowlist for tenant {tenant}.",
    "Traceroute stops at {IP4} after hop 9. Is that my ISP's router?",
    "Can I put {IP6} directly in a URL? How do I escape it?",
    "Bitte trage {IP6} als erlaubte Quelladresse in der Firewall ein.",
    "Mon adresse IP publique est {IP4}, pouvez-vous l'ajouter à la liste blanche ?",
    "Someone logged into my account from {IP} at 3am. Should I be worried?",
    "pg_hba.conf line: host all all {IP4}/32 md5 — still getting 'no pg_hba.conf entry for host'.",
    "The load balancer health check hits us from {IP4} every 5 seconds; can I exclude it from the logs?",
    "Why does dig return {IP6} for our status page when I only configured an A record?",
    "The Kubernetes node's external IP is {IP4} but the LoadBalancer service stays pending.",
    "Two login attempts: one from {IP4}, the other from {IP6}. Same user, same minute.",
    "Configure Redis to bind only to {IP4} instead of every interface. Which line in redis.conf?",
]

SSN_T = [
    "My SSN is {SSN}. Why does the IRS website say it doesn't match my name?",
    "Fill in the W-9 for me: name {name}, SSN {SSN}, address on file.",
    "Employee onboarding form: {name}, DOB {dob}, SSN {SSN}. Is it safe to email this to HR?",
    "The background check vendor needs the candidate's SSN ({SSN}). What's the secure way to send it?",
    "My credit report shows {SSN} tied to an address I never lived at. Is this identity theft?",
    "I mistyped my social as {SSN} on the loan application. Can I correct it after submission?",
    "Our HR export contains a column ssn with values like {SSN#1} and {SSN#2}. How do we mask all but the last four?",
    "Patient intake: {name}, SSN {SSN}, insurance {insurer}. Please summarise the form.",
    "Social Security number: {SSN}\nEmployer: {company}\nWhy was my unemployment claim put on hold?",
    "For the 1099, contractor {name}'s taxpayer ID is {SSN}.",
    "Write a polite email to payroll saying my SSN on the W-2 is wrong; it should be {SSN}.",
    "The DMV clerk wrote {SSN} on the form — is that my full number or a reference?",
    "INSERT INTO employees (name, ssn) VALUES ('{name}', '{SSN}'); — how do I encrypt this column instead?",
    "My son's SSN is {SSN}; do I need it to add him as a dependent on my health plan?",
    "My tax preparer asked me to text my SSN, {SSN}. Is that normal?",
    "Meine amerikanische Sozialversicherungsnummer lautet {SSN}. Brauche ich sie für die deutsche Steuererklärung?",
    "Mon numéro de sécurité sociale américain est {SSN}, dois-je le déclarer en France ?",
    "Verify identity: last name {last}, SSN {SSN}, ZIP {zip}.",
    "The bank form says 'SSN or ITIN'. Mine is {SSN}. Which box do I tick?",
    "Log line: kyc_check user={n} ssn={SSN} result=match — how do we scrub this before it hits Splunk?",
    "Fraud alert: someone opened a credit card using SSN {SSN}. What are my first three steps?",
    "Spouse info for the joint return: {name}, SSN {SSN}, no income this year.",
    "The student aid application asks for a parent's SSN. Dad's is {SSN}; should I enter it with dashes?",
    "Can you convert {SSN} to the plain 9-digit format the import file wants?",
    "Rental application: applicant {name}, SSN {SSN}, monthly income {amount}.",
    "Hi, my wife {first} got a letter about SSN {SSN}. It's hers, but the name is misspelled.",
    "In our test fixtures someone pasted a real SSN, {SSN}. How do I purge it from git history?",
    "Please confirm receipt of the I-9 documents for {name} (SSN {SSN}).",
    "The pension portal locked me out after I entered {SSN}. How many tries do I get?",
    "Medicare card replacement: name {name}, SSN {SSN}, born {dob}.",
    "Why does the validation reject {SSN}? It's my real number, I checked the card.",
    "Payroll summary: {first} {last}, SSN {SSN}, net pay {amount}, direct deposit.",
]

SECRET_T = [
    'My script fails with 401. Here\'s the setup:\n\nimport openai\nclient = openai.OpenAI(api_key="{OPENAI}")\n\nIs the key format wrong?',
    "export OPENAI_API_KEY={OPENAI_PROJ}\nThen `python app.py` still says the key is missing. Why?",
    ".env file:\nANTHROPIC_API_KEY={ANTHROPIC}\nDEBUG=true\nHow do I load this in Next.js?",
    "[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\nregion = eu-central-1\n\nboto3 says InvalidClientTokenId, what's wrong?",
    "I accidentally pushed my GitHub token {GITHUB} to a public repo. Is revoking it enough?",
    "The Slack bot won't post. SLACK_BOT_TOKEN={SLACK}, scopes chat:write. Error: not_in_channel.",
    "https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key={GOOGLE} returns REQUEST_DENIED. Which API do I need to enable?",
    'curl -H "Authorization: Bearer {JWT}" https://api.{host}/v1/me returns 403. Is the token expired?',
    "GET /v2/orders HTTP/1.1\nHost: api.{host}\nAuthorization: Bearer {BEARER}\nAccept: application/json\n\nWhy do I get 401 only from the mobile app?",
    "Why does ssh-add say 'invalid format' for this key?\n\n{PEM_OPENSSH}",
    "Can you check whether this private key matches my certificate?\n\n{PEM_RSA}",
    "Our Java service loads this PKCS#8 key and throws InvalidKeySpecException:\n{PEM_PKCS8}",
    "Here's my docker-compose snippet:\n  environment:\n    - OPENAI_API_KEY={OPENAI}\n    - REDIS_URL=redis://cache:6379/0\nThe container can't reach the API.",
    "Bitte prüf mal, warum dieser Schlüssel nicht geht: {ANTHROPIC}",
    "Voici ma clé d'accès AWS : {AWS_ID}. Elle a été désactivée sans raison ?",
    "git remote set-url origin https://{GITHUB}@github.com/{repo}.git — is embedding the token like this a bad idea?",
    "In the CI logs I see 'Using token {GITHUB_PAT} for checkout'. How do I mask secrets in GitHub Actions?",
    'terraform.tfvars:\naws_access_key_id = "{AWS_ID}"\naws_secret_access_key = "{AWS_SECRET}"\nThe plan fails with SignatureDoesNotMatch.',
    "export AWS_ACCESS_KEY_ID={AWS_ID}\nexport AWS_SECRET_ACCESS_KEY={AWS_SECRET}\naws s3 ls fails with AccessDenied.",
    'const genAI = new GoogleGenerativeAI("{GOOGLE}"); — is it OK to ship this in the browser bundle?',
    "Authorization: Bearer {JWT}\nCan you decode the payload and tell me when it expires?",
    'resp = requests.post(url, headers={"Authorization": "Bearer {BEARER}"}, json=body) returns 401 but the same token works in Postman.',
    "Can you rotate this for me? The old key was {OPENAI} and I've already deleted it from the dashboard.",
    "A colleague pasted {SLACK} into #general. What's the fastest way to revoke a Slack bot token?",
    "llm.yaml:\nproviders:\n  anthropic:\n    api_key: {ANTHROPIC}\n  openai:\n    api_key: {OPENAI_PROJ}\nWhich one does the router pick first?",
    "Der Deploy bricht ab: 'Bad credentials' mit dem Token {GITHUB}. Ist der abgelaufen?",
    "La requête échoue avec une 401 :\nAuthorization: Bearer {BEARER}\nLe jeton est-il mal formé ?",
    "I found this in an old backup. Is it still a live key?\n{PEM_RSA}",
    "Stack trace shows: anthropic.AuthenticationError: invalid x-api-key ({ANTHROPIC})",
    'firebaseConfig = {\n  apiKey: "{GOOGLE}",\n  authDomain: "{tenant}.firebaseapp.com"\n}\nShould the apiKey be kept secret?',
    "Pasted from ~/.ssh/id_ed25519 because ssh keeps asking for a passphrase:\n{PEM_OPENSSH}",
    "[{ts}] DEBUG http request: POST /v1/chat/completions headers={'Authorization': 'Bearer {OPENAI}'}",
    "Why is my AWS key {AWS_ID} showing up in CloudTrail from a region we don't use?",
    "kubectl create secret generic openai --from-literal=key={OPENAI_PROJ} — will this end up in my shell history?",
    "Which of these do I need to rotate?\naws_access_key_id={AWS_ID}\naws_secret_access_key={AWS_SECRET}\nThe IAM user was deleted last week.",
    "SLACK_WEBHOOK works but SLACK_TOKEN={SLACK} gives invalid_auth. Do bot tokens expire?",
    "Our load balancer logs capture the Authorization header: 'Authorization: Bearer {BEARER}'. How do I drop it from the access log format?",
    "Here's the private key for the staging TLS cert, can you convert it to PKCS#1?\n{PEM_PKCS8}",
    "My GitHub Action sets GH_TOKEN: {GITHUB} directly in the YAML. How do I move it to repository secrets?",
    "GOOGLE_API_KEY={GOOGLE}\nGEMINI_MODEL=gemini-1.5-pro\nWhy does the SDK ignore the environment variable?",
    "Fine-grained token {GITHUB_PAT} can read the repo but pushing fails with 403. Which permission is missing?",
    "HTTP/1.1 request dump:\nPOST /oauth/introspect\nAuthorization: Bearer {JWT}\nContent-Type: application/x-www-form-urlencoded",
]

MIXED_T = [
    "New customer signup:\nName: {name}\nEmail: {EMAIL}\nPhone: {PHONE}\nCard: {CARD}\nPlease check the fraud score.",
    "Vendor master data update for {company}: contact {EMAIL}, tel. {PHONE_DE}, IBAN {IBAN_DE}.",
    "Tenant application: {name}, SSN {SSN}, phone {PHONE_US}, email {EMAIL}. Summarise it for the landlord.",
    "Login alert: {EMAIL} signed in from {IP4} using a new device. If this wasn't you, call {PHONE_US}.",
    "{ts} INFO auth: user={EMAIL} ip={IP4} api_key={OPENAI} status=200 — why are we logging the key?",
    "Refund request from {EMAIL}: charged on {CARD}, please send the money to {IBAN} instead.",
    "Bitte aktualisieren: Name {name}, E-Mail {EMAIL}, Telefon {PHONE_DE}, IBAN {IBAN}.",
    "Fiche client : {name}, {EMAIL}, {PHONE_FR}, IBAN {IBAN_FR}.",
    "Incident report: an attacker at {IP6} used the leaked key {AWS_ID} to list our buckets. Notify {EMAIL}.",
    "Contractor {name} (US citizen living in Berlin): SSN {SSN}, paid to {IBAN_DE}, email {EMAIL}.",
    "Debug dump:\nuser.email={EMAIL}\nuser.phone={PHONE}\nreq.ip={IP}\nAuthorization: Bearer {JWT}\nWhat should we redact before sending this to Sentry?",
    "Hotel booking: guest {name}, {PHONE_UK}, card {CARD}, arriving {date}.",
    "Here's the setup for my side project: OPENAI_API_KEY={OPENAI}, database on {IP4}, alerts go to {EMAIL}. Is this secure?",
    "Wire instructions from {EMAIL}: pay {amount} to {IBAN} today. The email came from a lookalike domain, right?",
    "Support chat transcript:\nCustomer: my card {CARD} was charged twice, my email is {EMAIL}\nAgent: thanks, checking now.",
    "Background check request: candidate {name}, SSN {SSN}, email {EMAIL}, phone {PHONE_US}.",
    "Server inventory: web-1 {IP4#1}, web-2 {IP4#2}, db {IP6}. Admin contact {EMAIL}.",
    "Someone from {IP4} tried {EMAIL}'s password 40 times, then called {PHONE} pretending to be support.",
    "Our .env got committed:\nALERT_EMAIL={EMAIL}\nSLACK_BOT_TOKEN={SLACK}\nGITHUB_TOKEN={GITHUB}\nWhat do I rotate first?",
    "Please complete the SEPA mandate: debtor {name}, IBAN {IBAN}, email for receipts {EMAIL}.",
    "Medical bill dispute: patient {name}, SSN {SSN}, paid with {CARD} on {date}.",
    "Rückruf erbeten: {name}, {PHONE_DE}. Die Kartennummer {CARD} wurde doppelt belastet.",
    "Our ssh bastion {IP4} only accepts this key:\n{PEM_OPENSSH}\nWho else should have a copy? Ask {EMAIL}.",
    "Deploy notes: prod API at {IP6}, header 'Authorization: Bearer {BEARER}', on-call {PHONE}.",
    "Forward this to accounting: invoice paid by {EMAIL} with card {CARD}; the remainder by transfer from {IBAN}.",
    "The ticket from {EMAIL} includes their SSN {SSN} and phone {PHONE_US} in plain text. How do we handle that under our retention policy?",
    "The Gemini key {GOOGLE} and the Anthropic key {ANTHROPIC} are both in this notebook cell. How do I move them to environment variables?",
    "Payroll change for {name}: new phone {PHONE_IN}, new account {IBAN_GB}, work email {EMAIL}.",
]

NEGATIVE_T = [
    # order, invoice, ticket and tracking numbers
    "Order #{order16} still says 'processing' after five days. Can you check the warehouse status?",
    "Order #4532-1189-0043-2217 arrived damaged; the box was crushed on one side. Can I get a replacement?",
    "Bestellnummer {order16}: Das Paket wurde als zugestellt markiert, ist aber nicht angekommen.",
    "Tracking number {track16} hasn't updated since the parcel left the depot on Monday.",
    "Le colis {track16} est bloqué en douane depuis lundi, que dois-je faire ?",
    "Invoice INV-2026-{n4} was paid twice; please credit the duplicate to our customer account.",
    "Ticket {jira} is blocked by the database migration. Can you summarise what's left?",
    "The Jira key PAY-1234 and Zendesk ticket #88213 refer to the same bug; link them please.",
    "Bitte die Rechnung Nr. 2026-11-0042 vom 23.11.2026 stornieren, Betrag 1.249,00 €.",
    "Facture n° FA-2026-0193 du 14/03/2026, montant TTC 2 340,50 €. Pouvez-vous vérifier la TVA à 20 % ?",
    "Lot number 20241123-0042 appears on the recall notice; is our batch affected?",
    "Mein Paket mit der Sendungsnummer 00340434161094042557 liegt seit drei Tagen im Verteilzentrum.",
    "Our test card {card_bad} is supposed to fail the Luhn check so the form shows an error. Does it?",
    "The reference on the bank statement is {order16}; which of our orders does it match?",
    # versions and builds
    "We upgraded from v2.14.3 to v2.15.0 and now the CLI prints a deprecation warning for --config.",
    "pip says the package requires numpy>=1.26.4,<2.1 but I have 2.1.3 installed. How do I pin it?",
    "Kernel 6.8.0-49-generic panics on boot, 6.5.0-45-generic works. Where do I start looking?",
    "Our build number is 2024.11.23.1 — how do I make Gradle put that into the jar manifest?",
    "Sort these versions correctly: 1.10.0, 1.9.12, 1.10.0-rc1, 2.0.0a3, 1.2.3.4.5.",
    "Die Versionsnummer 3.11.7 reicht nicht, wir brauchen mindestens Python 3.12.",
    "Les numéros de version 2.0.1 et 2.0.10 sont triés dans le mauvais ordre par notre script.",
    "Image tag ghcr.io/acme/api:2026.11.23-{sha7} — is a date-based tag a good idea for rollbacks?",
    "Chrome 131.0.6778.86 renders the grid differently from Firefox 133.0; which one is right?",
    "Ubuntu 24.04.1 LTS or 22.04.5? Which one should the CI base image use?",
    # dates and times
    "Log timestamps look like 2026-11-23T14:05:33Z in one service and 14:05:33.123 in the other; how do I normalise them?",
    "The cron job fired at 2026-03-29 02:30:00 CET, a time that doesn't exist because of the DST change. What happens?",
    "Convert 23.11.2026 to ISO format and tell me what weekday it is.",
    "Unix timestamp 1763906733 — what date is that in UTC?",
    "The span started at {ts} and lasted 1.734 s; why is the parent span shorter?",
    "Meeting moved to 10:30–11:15 in room B-204, dial-in details to follow.",
    "Parse this ISO 8601 duration: PT1H30M15S, and return the total in seconds.",
    "Our job ran for 86400000 ms. Convert that to hours and explain why it's exactly one day.",
    # identifiers, hashes, colours
    "Request id {uuid} returned a 500; can you find it in the trace viewer?",
    "git bisect says {sha} is the first bad commit. How do I see its diff?",
    "Revert commit {sha7} but keep the test changes it introduced.",
    "Our brand colours are {hex1} and {hex2}; suggest a third one that works for buttons.",
    "The Docker image digest is sha256:{sha256}; how do I pin it in the compose file?",
    "Compare these checksums: md5 {md5} vs expected {md5b}. The download is corrupt, right?",
    'ETag: "{sha}" — why does the CDN return 200 instead of 304 for the same ETag?',
    "traceparent: 00-{md5}-{sha7}0a1b2c3d4-01 — what do the four fields mean?",
    "Our Kubernetes pod api-7d9f8c6b5-x2kqz restarts every 37 minutes. Where do I look first?",
    "Generate a UUIDv7 and explain how it differs from a v4 UUID like {uuid}.",
    "Hex colour #FF5733 with 80% opacity — what's the rgba() value?",
    "Convert 0xDEADBEEF to decimal and explain two's complement for 0xFFFFFFFE.",
    # numbers, prices, maths
    "The shipping quote for ZIP 94107 was $18.50 but for 94107-1234 it's $22.10. Why the difference?",
    "Prices went from $1,299.99 to $1,449.00. Is that an increase of 11.5%?",
    "What's 4532 × 1189 − 43 ÷ 2217? Show the steps.",
    "Compute 3.14159 * 2.71828 to four decimal places.",
    "Why is 0.1 + 0.2 == 0.30000000000000004 in JavaScript?",
    "Percentages: conversion went from 2.4% to 3.1%, a relative lift of 29%. Is that significant with 18,204 visitors?",
    "Our SLA promises 99.95% uptime, which is about 21.9 minutes of downtime per month. Is that right?",
    "Quarterly revenue was €4.2M, up 12.3% YoY, with an EBITDA margin of 18.7%.",
    "Matrix multiply [[1, 2], [3, 4]] by [[5, 6], [7, 8]] and show the working.",
    "Our monthly active users hit 1,204,331; the goal was 1.5M. Write a short update for the team.",
    "The API returns amount: 1099 (cents) and currency: usd — why is the dashboard showing $10.99?",
    "Convert RGB(64, 128, 255) to HSL and round to whole numbers.",
    "The coordinates 52.5200, 13.4050 should be Berlin but the map shows the sea.",
    "Set the viewport to 1920x1080 and the device pixel ratio to 2.5; what's the CSS width?",
    "Our API rate limit is 600 requests per 60 seconds, with bursts up to 120. How do I configure that in Envoy?",
    "What does (212 − 736) × 5000 equal, and why does Python print a negative number?",
    "Split the CSV on ';' because the decimal separator is a comma, e.g. 1.234,56.",
    "The temperature sensor reports 23.5°C with a tolerance of ±0.3 K; is that within spec?",
    "Die Artikelnummer {ean13} ist eine EAN — kann ich daraus den Hersteller ablesen?",
    # placeholders and redactions
    "Replace every email in this text with <EMAIL_ADDRESS_1>, <EMAIL_ADDRESS_2> and so on, and phone numbers with <PHONE_NUMBER_1>.",
    "The redacted export shows 'Contact: [REDACTED], card ending ****4821'. Can we recover the original?",
    "Our masking turns emails into j***@***.com — is that enough for GDPR pseudonymisation?",
    "Masked card: XXXX-XXXX-XXXX-4821, masked phone: (***) ***-0132. Is this format PCI-compliant?",
    "Use placeholders like <CREDIT_CARD>, <IBAN_CODE> and <US_SSN> in the anonymised dataset.",
    "Set OPENAI_API_KEY=<your-key-here> in .env, then restart the server.",
    "Authorization: Bearer <token> — what goes in place of <token> when I call the API from the CLI?",
    'Our example config uses api_key: "${OPENAI_API_KEY}" so the real key never lands in git. Is that enough?',
    "Replace the placeholder YOUR_ACCESS_KEY_ID in the tutorial with a reference to an environment variable.",
    "The dashboard lists my key as sk-...Qx3f; how do I find out which project it belongs to?",
    "Our logs show AKIA**************** for the access key; who masked it, the SDK or our logger?",
    "Our phone field placeholder says '123-456-7890'. Should it show a real-looking example instead?",
    "Account number placeholder ACCT-0000-XXXX in the template should be filled from the CRM.",
    "Ausweisnummern sollen im Formular mit ****** maskiert werden. Wie mache ich das in React?",
    # words that start like keys
    "I'm getting ImportError: No module named 'sk-learn'. Is that the same package as scikit-learn?",
    "The task-runner and disk-cleanup jobs collide every night at 02:00. How do I stagger them?",
    "Set the locale to sk-SK for Slovak users and de-AT for Austria; which date formats change?",
    "What does the AKIA prefix mean on AWS access key IDs, compared to ASIA?",
    "Our secret scanner flags any string that starts with ghp_ or sk- — how do I allowlist test fixtures?",
    "Use xoxb- tokens for bots and xoxp- tokens for users. Which one should our integration request?",
    "Tokens starting with eyJ are usually JWTs because a JSON object's opening brace and quote encode to those three characters.",
    "Can you explain what aws_secret_access_key means in the credentials file without showing a real one?",
    "Why do Google API keys all start with AIza? Is the prefix part of the secret?",
    "Our risk-free rate assumption and desk-level limits are in the appendix; summarise them.",
    # handles, paths, URLs, code
    "Follow @jane_doe and @dev_ops_daily for updates on the launch.",
    "Logs are in /var/log/nginx/access.log and C:\\ProgramData\\App\\logs\\service.log; which one has the 502s?",
    "The docs at https://docs.python.org/3/library/re.html don't explain possessive quantifiers well.",
    "Why does https://github.com/psf/requests/blob/main/README.md show a 404 on mobile?",
    "The logo file is assets/img/logo@2x.png; why doesn't the retina version load?",
    "Decorators like @app.route('/users/<int:id>') and @pytest.fixture confuse my syntax highlighter.",
    "The npm package @acme/ui-kit@3.4.1 breaks tree-shaking; should I pin 3.3.9?",
    "Run python -m http.server 8000 --bind localhost and open http://localhost:8000/index.html.",
    "Our test suite uses the email pattern r'[^@]+@[^@]+\\.[^@]+' — is that too permissive?",
    "In Python, why does '{:,.2f}'.format(1234567.891) give 1,234,567.89?",
    "Fix the off-by-one: for i in range(1, 10) should include 10. Also rename get_user_email() to fetch_email().",
    "The Redis key user:4821:session expires after 3600 seconds, but the TTL shows -1.",
    "The password policy regex ^(?=.*[A-Z])(?=.*\\d).{12,}$ — can you explain each part?",
    "The bug is in line 4532 of parser.c, function parse_hdr(), introduced in release 1.18.2.",
    "Base64 of 'hello world' is aGVsbG8gd29ybGQ=; why does mine end with two '=' signs?",
    "Why does this inline image not render? data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 — how do I search for this trace in Tempo?",
    "The file name is report_2026_11_23_v3.final.docx; why does SharePoint reject it?",
    # invalid SSNs, IBANs and other shapes
    "Is 000-12-3456 a valid SSN? Our form accepted it without complaint.",
    "The test data uses 666-45-1234 and 900-11-2222 as fake social security numbers; the validator should reject both.",
    "Social Security numbers have the format AAA-GG-SSSS; which area numbers were never issued?",
    "Our IBAN field shows DE00 1234 5678 9012 3456 78 as the example; the check digits are deliberately impossible, right?",
    "This IBAN fails the checksum: {bad_iban}. Did the customer swap two digits?",
    "ISBN {isbn13} — is this the German or the English edition?",
    "Balance the equation: C6H12O6 + 6 O2 -> 6 CO2 + 6 H2O, and name the process.",
    "What's the molar mass of caffeine, C8H10N4O2, and of H2SO4?",
    "SKU 4411-BLK-XL is listed twice in the catalogue export, once at 29.90 and once at 31.90.",
    "Error 0x80070005 when installing update KB5031356 on Windows 11 23H2. Any fix?",
    "Flight LH 2024 departs 14:05 from gate B38, seat 23C. Can I still change the seat?",
    "Gene variant c.5266dupC in BRCA1 — what does the notation mean?",
    "Chess opening: 1. e4 e5 2. Nf3 Nc6 3. Bb5 — what's it called?",
    "What's the difference between UK postcodes like SW1A 1AA and French ones like 75008?",
    "Explain the difference between a /24 and a /16 subnet in plain words.",
    "Phone interviews are on Tuesdays between 10:00 and 12:30; please add a 15-minute buffer between calls.",
    "Draw an ASCII table with columns id, email, phone and iban, and leave the cells empty.",
    "How many digits does a Visa card number have, and how does the Luhn algorithm work?",
    "How do I validate an IBAN in Excel without VBA?",
    "Hex dump: 48 65 6c 6c 6f 2c 20 77 6f 72 6c 64 — what ASCII text is that?",
    "Our Grafana dashboard uid is a1b2c3d4 and panel id 17; the embed URL returns 404.",
    "Room 4.102 in building 7: how do I get there from the main entrance?",
    "Le code promo NOEL2026 donne 15 % de réduction, valable jusqu'au 31/12/2026.",
]

SPLIT_T = [
    # EMAIL_ADDRESS
    "Sure! You can reach the billing team at {EMAIL}; they usually answer within a day.",
    "I've drafted the reply. It's addressed to {EMAIL} and copies your manager.",
    "The duplicate account is registered under {EMAIL}, so I'd merge it into the primary one.",
    "Voici l'adresse que vous avez demandée : {EMAIL}. Bonne journée !",
    "Die Kontaktadresse im Impressum lautet {EMAIL}, dort bitte den Widerruf hinschicken.",
    "Found it: the commit author is {EMAIL}, not the release bot.",
    # PHONE_NUMBER
    "The number on the invoice is {PHONE}; I'd call them before paying anything.",
    "Here is the cleaned-up contact: {name}, {PHONE}.",
    "You can reach the London desk on {PHONE_UK} between 9 and 5.",
    "Ihre Rückrufnummer lautet {PHONE_DE}, das habe ich im Ticket notiert.",
    "Le standard répond au {PHONE_FR} du lundi au vendredi.",
    "The driver's number from the SMS is {PHONE_IN}; he'll call when he's close.",
    "Normalised, the number reads {PHONE_US}.",
    # CREDIT_CARD
    "The card number in the ticket is {CARD}; please mask it before forwarding.",
    "Extracted from the receipt: card {CARD}, amount {amount}.",
    "Your test should pass with {CARD}, since that number satisfies the Luhn check.",
    "Die Kartennummer aus der E-Mail lautet {CARD}.",
    "Here's the row after cleanup: {name}, {CARD}, exp {exp}.",
    "The Amex number in the log line is {CARD_AMEX}, which means the masking filter didn't run.",
    # IBAN_CODE
    "The supplier's new IBAN is {IBAN}. Please verify it by phone before paying.",
    "Formatted in groups of four, the IBAN is {IBAN_GROUPED}.",
    "Die IBAN aus der Rechnung lautet {IBAN_DE}.",
    "L'IBAN du bénéficiaire est {IBAN_FR}, le virement peut partir aujourd'hui.",
    "Validated: {IBAN} has correct check digits.",
    "For the transfer use {IBAN_NL}, reference {ref}.",
    # IP_ADDRESS
    "The requests come from {IP4}, which belongs to a cloud provider's range.",
    "Your server's public IPv6 address is {IP6}.",
    "I'd add {IP4} to the allowlist and remove the old office address.",
    "Die Anfrage kam von {IP}, also nicht aus dem internen Netz.",
    "Block {IP6} at the edge; it's the source of the port scan.",
    "The failed logins all originate from {IP4}.",
    # US_SSN
    "The SSN on the W-2 reads {SSN}, which doesn't match the one you gave me.",
    "I've filled in the form: name {name}, SSN {SSN}.",
    "From the scanned card, the number is {SSN}.",
    "The log line contains ssn={SSN}; you should scrub it before sharing.",
    "Your spouse's SSN as entered is {SSN}. Please double-check it.",
    "Der Datensatz enthält die SSN {SSN}, die müssen wir löschen.",
    # SECRET
    "Your config sets OPENAI_API_KEY={OPENAI}; rotate it, since it was shared in chat.",
    "The key in the notebook is {ANTHROPIC}. Move it to an environment variable.",
    "Here's the credentials file:\n[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}",
    "The token embedded in the remote URL is {GITHUB}; revoke it in Settings → Developer settings.",
    "Your bot token is {SLACK}; paste it into the app's OAuth settings.",
    "The failing request used this header:\nAuthorization: Bearer {JWT}",
    "Here is the key you pasted, reformatted:\n{PEM_RSA}",
    "The Maps key in the HTML source is {GOOGLE}; restrict it by referrer.",
    "Add `export OPENAI_API_KEY={OPENAI_PROJ}` to your shell profile.",
    # several types
    "Contact {name} at {EMAIL} or on {PHONE}.",
    "Refund {amount} from card {CARD} to IBAN {IBAN}.",
    "The login from {IP4} used {EMAIL} and the API key {OPENAI}.",
    "Customer: {name}, SSN {SSN}, phone {PHONE_US}.",
]

# Strings in the hard negatives that the unlabelled-value scan would flag by
# shape alone but that are not sensitive (checked by eye).
LINT_ALLOW = ("logo@2x.png", "ui-kit@3.4.1")

# --------------------------------------------------------------------------
# Self-check: nothing sensitive left unlabelled
# --------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IPV4_RE = re.compile(r"(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\.?\d)")
_IPV6_RE = re.compile(r"(?<![\w:.])[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(?![\w:])")
_DIGITS_RE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,}(?!\d)")
_SSN_RE = re.compile(r"(?<![\d-])\d{3}[- ]\d{2}[- ]\d{4}(?![\d-])")
_PHONE_RES = (
    re.compile(r"(?<![\d+])(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[-. ])[2-9]\d{2}[-. ]\d{4}(?!\d)"),
    re.compile(r"(?<!\d)[2-9]\d{2}[2-9]\d{6}(?!\d)"),
    re.compile(r"\+\d{1,3}(?:[ -]?\d){6,14}"),
    re.compile(r"(?<![\d.,])0[1-9]\d{0,3}(?: \d{2,4}){2,4}(?!\d)"),
)
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")
_SECRET_RES = (
    re.compile(r"sk-[A-Za-z0-9_-]{20,}"),
    re.compile(r"AKIA[A-Z0-9]{16}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_"),
    re.compile(r"xox[abprs]-\d"),
    re.compile(r"AIza[\w-]{20,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}"),
    re.compile(r"(?i)bearer\s+[\w.~+/-]{20,}"),
    re.compile(r"(?i)aws_secret_access_key\W{1,4}[A-Za-z0-9/+]{20,}"),
)


def luhn_runs(text: str) -> list[str]:
    """Digit runs of 13-19 digits (whole groups, space or dash separated) passing Luhn."""
    found = []
    for m in _DIGITS_RE.finditer(text):
        groups = re.split(r"[ -]", m.group())
        for i in range(len(groups)):
            for j in range(i + 1, len(groups) + 1):
                run = "".join(groups[i:j])
                if 13 <= len(run) <= 19 and luhn_valid(run):
                    found.append(" ".join(groups[i:j]))
    return found


def unlabelled(text: str, entities: list[dict[str, str]]) -> list[str]:
    """What in `text` looks sensitive once the labelled values are blanked."""
    masked = text
    for e in entities:
        masked = masked.replace(e["value"], "\x00" * len(e["value"]))
    for a in LINT_ALLOW:
        masked = masked.replace(a, "\x00" * len(a))
    found = []
    found += ["email " + m.group() for m in _EMAIL_RE.finditer(masked)]
    found += ["ipv4 " + m.group() for m in _IPV4_RE.finditer(masked) if ipv4_valid(m.group())]
    for m in _IPV6_RE.finditer(masked):
        try:
            ipaddress.IPv6Address(m.group())
        except ValueError:
            continue
        found.append("ipv6 " + m.group())
    found += ["luhn " + run for run in luhn_runs(masked)]
    found += ["ssn " + m.group() for m in _SSN_RE.finditer(masked) if ssn_valid(m.group())]
    for rx in _PHONE_RES:
        found += ["phone " + m.group() for m in rx.finditer(masked)]
    for m in _IBAN_RE.finditer(masked):
        s = m.group().replace(" ", "")
        if any(iban_valid(s[:n]) for n in range(15, len(s) + 1)):
            found.append("iban " + m.group())
    for rx in _SECRET_RES:
        found += ["secret " + m.group() for m in rx.finditer(masked)]
    leftover = re.findall(r"\{[A-Za-z][A-Za-z0-9_]*(?:#\d+)?\}", masked)
    found += ["slot " + s for s in leftover if s != "{OPENAI_API_KEY}"]
    return found


def check_record(rec: dict) -> None:
    text, entities = rec["text"], rec["entities"]
    where = rec["id"]
    assert rec["category"] in ("positive", "hard_negative", "split"), where
    has_pem = "PRIVATE KEY-----" in text
    assert 40 <= len(text) <= (1400 if has_pem else 600), (where, len(text))
    assert (rec["category"] == "hard_negative") == (not entities), where
    values = [e["value"] for e in entities]
    for e in entities:
        v = e["value"]
        assert e["type"] in TYPES, where
        assert text.count(v) == 1, (where, v)
        assert not any(v != o and v in o for o in values), (where, v)
        i = text.index(v)
        before = text[i - 1] if i else " "
        after = text[i + len(v)] if i + len(v) < len(text) else " "
        assert not before.isalnum() and not after.isalnum(), (where, v)
        t = e["type"]
        if t == "CREDIT_CARD":
            digits = re.sub(r"[ -]", "", v)
            assert digits.isdigit() and luhn_valid(digits), (where, v)
            assert (len(digits) == 15 and digits[:2] in ("34", "37")) or (
                len(digits) == 16
                and (
                    digits[0] == "4"
                    or digits[:2] in ("51", "52", "53", "54", "55")
                    or 2221 <= int(digits[:4]) <= 2720
                    or digits[:4] == "6011"
                )
            ), (where, v)
        elif t == "IBAN_CODE":
            assert iban_valid(v), (where, v)
        elif t == "US_SSN":
            assert ssn_valid(v), (where, v)
        elif t == "IP_ADDRESS":
            ipaddress.ip_address(v)
        elif t == "EMAIL_ADDRESS":
            assert _EMAIL_RE.fullmatch(v), (where, v)
    problems = unlabelled(text, entities)
    assert not problems, (where, problems)
    if rec["category"] == "split":
        chunks = rec["chunks"]
        assert 2 <= len(chunks) <= 5 and all(chunks), where
        assert "".join(chunks) == text, where
        cuts, pos = set(), 0
        for c in chunks[:-1]:
            pos += len(c)
            cuts.add(pos)
        assert any(
            any(text.index(v) < c < text.index(v) + len(v) for c in cuts) for v in values
        ), where
    else:
        assert "chunks" not in rec, where


# --------------------------------------------------------------------------
# Building the corpus
# --------------------------------------------------------------------------


def split_chunks(g: Gen, text: str, entities: list[dict[str, str]]) -> list[str]:
    n = g.rng.randint(2, 5)
    cuts: set[int] = set()
    straddled = g.rng.sample(entities, k=1 if len(entities) == 1 or g.rng.random() < 0.5 else 2)
    for e in straddled:
        start = text.index(e["value"])
        cuts.add(g.rng.randint(start + 1, start + len(e["value"]) - 1))
    while len(cuts) < n - 1:
        cuts.add(g.rng.randint(1, len(text) - 1))
    bounds = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def build() -> list[dict]:
    g = Gen(SEED)
    records: list[dict] = []

    def add(prefix: str, category: str, templates: list[str], counter: Counter) -> None:
        for template in templates:
            text, entities = fill(g, template)
            counter[prefix] += 1
            rec = {
                "id": f"{prefix}-{counter[prefix]:03d}",
                "category": category,
                "text": text,
                "entities": entities,
            }
            if category == "split":
                rec["chunks"] = split_chunks(g, text, entities)
            records.append(rec)

    counter: Counter = Counter()
    add("email", "positive", EMAIL_T, counter)
    add("phone", "positive", PHONE_T, counter)
    add("card", "positive", CARD_T, counter)
    add("iban", "positive", IBAN_T, counter)
    add("ip", "positive", IP_T, counter)
    add("ssn", "positive", SSN_T, counter)
    add("secret", "positive", SECRET_T, counter)
    add("mixed", "positive", MIXED_T, counter)
    add("neg", "hard_negative", NEGATIVE_T, counter)
    add("split", "split", SPLIT_T, counter)

    texts = [r["text"] for r in records]
    assert len(set(texts)) == len(texts), "duplicate texts"
    for rec in records:
        check_record(rec)
    return records


def summary(records: list[dict]) -> dict[str, Counter]:
    by_cat = Counter(r["category"] for r in records)
    per_type: dict[str, Counter] = {}
    for r in records:
        for t in {e["type"] for e in r["entities"]}:
            per_type.setdefault(t, Counter())[r["category"]] += 1
    return {"categories": by_cat, **per_type}


def check_distribution(records: list[dict]) -> None:
    s = summary(records)
    assert len(records) >= 360, len(records)
    assert s["categories"]["hard_negative"] >= 90, s["categories"]
    assert s["categories"]["split"] >= 40, s["categories"]
    for t in TYPES:
        assert s[t]["positive"] >= 30, (t, s[t])
        assert s[t]["split"] >= 1, (t, s[t])


def render(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the corpus on disk is out of date")
    args = parser.parse_args(argv)

    records = build()
    check_distribution(records)
    content = render(records)
    rel = OUT.relative_to(ROOT)
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else None
        if current != content:
            print(f"{rel} is out of date; run python tests/data/make_pii_corpus.py", file=sys.stderr)
            return 1
        print(f"{rel} is up to date ({len(records)} texts)")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(content, encoding="utf-8")
    s = summary(records)
    print(f"wrote {rel}: {len(records)} texts, " + ", ".join(f"{k} {v}" for k, v in sorted(s["categories"].items())))
    for t in TYPES:
        print(f"  {t:<14} " + ", ".join(f"{k} {v}" for k, v in sorted(s[t].items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

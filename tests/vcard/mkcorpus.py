#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz_apdu.c: realistic APDU sequences,
as stock clients send them, in the harness's record format (2-byte length +
APDU; length 0 + op byte: 0 power cycle, 1 grant 9B, 2 grant PIN).

    tests/vcard/mkcorpus.py tests/fuzz/corpus/apdu
"""
import os
import struct
import sys

POWER, GRANT_MGM, GRANT_PIN = b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02"
AID = bytes.fromhex("A000000308000010000100")


def rec(h):
    b = bytes.fromhex(h) if isinstance(h, str) else h
    return struct.pack(">H", len(b)) + b


def short(cla, ins, p1, p2, data=b"", le=None):
    a = bytes([cla, ins, p1, p2])
    if data:
        a += bytes([len(data)]) + data
    if le is not None:
        a += bytes([le & 0xFF])
    return a


def ext(ins, p1, p2, data=b"", le=None):
    a = bytes([0, ins, p1, p2, 0])
    if data:
        a += struct.pack(">H", len(data)) + data
    if le is not None:
        a += struct.pack(">H", le & 0xFFFF) if data else struct.pack(">H", le & 0xFFFF)
    return a


def chained(ins, p1, p2, data):
    out = []
    for i in range(0, len(data), 255):
        last = i + 255 >= len(data)
        out.append(short(0x00 if last else 0x10, ins, p1, p2, data[i:i + 255]))
    return out


def tlv(tag, val):
    t = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    n = len(val)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = b"\x81" + bytes([n])
    else:
        ln = b"\x82" + struct.pack(">H", n)
    return t + ln + val


def getdata(tag, le=0):
    tb = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    return short(0, 0xCB, 0x3F, 0xFF, tlv(0x5C, tb), le)


def pin(p):
    return p.encode() + b"\xff" * (8 - len(p))


def gen(slot, alg, pp=None, tp=None):
    body = tlv(0x80, bytes([alg]))
    if pp is not None:
        body += tlv(0xAA, bytes([pp]))
    if tp is not None:
        body += tlv(0xAB, bytes([tp]))
    return short(0, 0x47, 0, slot, tlv(0xAC, body))


def ga(alg, slot, tag, data):
    return short(0, 0x87, alg, slot, tlv(0x7C, tlv(0x82, b"") + tlv(tag, data)), 0)


seeds = {}
# OpenSC probing and reading, as pkcs11-tool -L does.
seeds["opensc_probe"] = [
    short(0, 0xA4, 4, 0, bytes.fromhex("A00000000101")),
    short(0, 0xCA, 0xDF, 0x30, le=5),
    getdata(0x7E, 8), getdata(0x7E, 0x14), short(0, 0xA4, 4, 0, AID[:9], 0),
    getdata(0x5FC107, 8), getdata(0x5FC102, 0), getdata(0x5FC10C, 8),
    getdata(0x5FC105, 8), short(0, 0x20, 0, 0x80), getdata(0x5FC109, 8),
    short(0, 0xC0, 0, 0, le=0x10),
]
# ykpiv status, verify, change PIN, unblock.
seeds["ykpiv_pins"] = [
    short(0, 0xA4, 4, 0, AID[:5]), short(0, 0x20, 0, 0x80, le=0),
    short(0, 0xFD, 0, 0, le=0), short(0, 0xF8, 0, 0, le=0),
    short(0, 0x20, 0, 0x80, pin("123456")),
    short(0, 0x24, 0, 0x80, pin("123456") + pin("654321")),
    short(0, 0x20, 0, 0x80, pin("000000")), short(0, 0x20, 0, 0x80, pin("000000")),
    short(0, 0x20, 0, 0x80, pin("000000")), short(0, 0x20, 0, 0x80, pin("654321")),
    short(0, 0x2C, 0, 0x80, b"12345678" + pin("111111")),
    short(0, 0x24, 0, 0x81, b"12345678" + b"87654321"),
    short(0, 0x20, 0xFF, 0x80), short(0, 0x20, 0, 0x80),
]
# Block PIN and PUK, then RESET; SET PIN RETRIES.
seeds["reset"] = ([short(0, 0x20, 0, 0x80, pin("999999"))] * 4 +
                  [short(0, 0x2C, 0, 0x80, b"00000000" + pin("111111"))] * 4 +
                  [short(0, 0xFB, 0, 0), short(0, 0x20, 0, 0x80, pin("123456")),
                   GRANT_MGM, short(0, 0xFA, 5, 5)])
# 9B mutual authentication start, then admin work behind a granted 9B.
seeds["mgm_generate_sign"] = [
    short(0, 0x87, 3, 0x9B, tlv(0x7C, tlv(0x80, b""))),
    short(0, 0x87, 3, 0x9B, tlv(0x7C, tlv(0x80, bytes(8)) + tlv(0x81, bytes(range(8))))),
    short(0, 0x87, 3, 0x9B, tlv(0x7C, tlv(0x81, b""))),
    short(0, 0x87, 3, 0x9B, tlv(0x7C, tlv(0x82, bytes(8)))),
    GRANT_MGM, gen(0x9A, 0x11), gen(0x9C, 0x14, 3, 1), gen(0x9E, 0x11, 1),
    short(0, 0x20, 0, 0x80, pin("123456")),
    ga(0x11, 0x9A, 0x81, bytes(range(32))), ga(0x14, 0x9C, 0x81, bytes(range(48))),
    ga(0x11, 0x9E, 0x85, b"\x04" + bytes(range(1, 65))),
    short(0, 0xF9, 0x9A, 0), short(0, 0xC0, 0, 0, le=0),
    short(0, 0xF7, 0, 0x9A), short(0, 0xF7, 0, 0x9C), POWER,
    ga(0x11, 0x9A, 0x81, bytes(range(32))),
]
# RSA: generate, chained raw sign, import by CRT parts (bogus values).
seeds["rsa"] = ([GRANT_MGM, gen(0x9D, 0x07), GRANT_PIN] +
                chained(0x87, 0x07, 0x9D, tlv(0x7C, tlv(0x82, b"") + tlv(0x81, b"\x00\x01" + b"\xff" * 254))) +
                chained(0xFE, 0x07, 0x82, b"".join(tlv(t, b"\x01" * 128) for t in range(1, 6)) + tlv(0xAA, b"\x01")) +
                [short(0, 0xF7, 0, 0x82), short(0, 0xF9, 0x9D, 0)])
# EC import (d = 1..32) and use.
seeds["ec_import"] = [GRANT_MGM, short(0, 0xFE, 0x11, 0x95, tlv(0x06, bytes(range(1, 33))) + tlv(0xAB, b"\x02")),
                      GRANT_PIN, ga(0x11, 0x95, 0x81, bytes(32)), short(0, 0xF7, 0, 0x95),
                      short(0, 0xF9, 0x95, 0)]
# Objects: chained PUT DATA of a certificate-sized object, read back in pieces.
cert = tlv(0x70, bytes(range(256)) * 3) + tlv(0x71, b"\x00") + tlv(0xFE, b"")
seeds["put_get_object"] = ([GRANT_MGM] +
                           chained(0xDB, 0x3F, 0xFF, tlv(0x5C, b"\x5f\xc1\x05") + tlv(0x53, cert)) +
                           [getdata(0x5FC105, 8), getdata(0x5FC105, 0), short(0, 0xC0, 0, 0, le=0x40),
                            short(0, 0xC0, 0, 0, le=0), short(0, 0xC0, 0, 0, le=0),
                            short(0, 0xDB, 0x3F, 0xFF, tlv(0x5C, b"\x5f\xc1\x05") + tlv(0x53, b"")),
                            getdata(0x5FC105, 0),
                            short(0, 0xDB, 0x3F, 0xFF, tlv(0x7E, tlv(0x4F, AID) + tlv(0x5F2F, b"\x40\x00"))),
                            getdata(0x5FC109, 0), GRANT_PIN, getdata(0x5FC109, 0)])
# ykman: extended APDUs, metadata of everything, AES management key.
seeds["ykman_ext"] = [ext(0xA4, 4, 0, AID[:5]), ext(0xFD, 0, 0), ext(0xF7, 0, 0x80),
                      ext(0xF7, 0, 0x81), ext(0xF7, 0, 0x9B), ext(0xF7, 0, 0xF9),
                      ext(0xCB, 0x3F, 0xFF, tlv(0x5C, b"\x5f\xff\x00")),
                      ext(0xCB, 0x3F, 0xFF, tlv(0x5C, b"\x5f\xc1\x02"), 0),
                      GRANT_MGM, ext(0xFF, 0xFF, 0xFF, b"\x0c" + tlv(0x9B, bytes(range(32)))),
                      ext(0x87, 0x0C, 0x9B, tlv(0x7C, tlv(0x80, b""))),
                      ext(0x47, 0, 0x9A, tlv(0xAC, tlv(0x80, b"\x14")))]
# ykman info and libykpiv's PIN-retries query: the management application
# (READ CONFIG, PIV commands it refuses, OTP not there), back to PIV.
MGMT = bytes.fromhex("A000000527471117")
seeds["ykman_mgmt"] = [short(0, 0xA4, 4, 0, MGMT), short(0, 0x1D, 0, 0), ext(0x1D, 0, 0, le=0),
                       short(0, 0x1D, 1, 0), short(0, 0x1D, 0, 0, b"\x00"), short(0, 0xFD, 0, 0),
                       getdata(0x7E, 0), short(0, 0xA4, 4, 0, bytes.fromhex("A0000005272001")),
                       short(0, 0xA4, 4, 0, AID[:5]), short(0, 0x20, 0, 0x80, pin("123456")),
                       short(0, 0xA4, 4, 0, MGMT), short(0, 0xA4, 4, 0, AID[:5]),
                       short(0, 0x20, 0, 0x80), short(0, 0xA4, 4, 0, MGMT), POWER,
                       short(0, 0x1D, 0, 0), short(0, 0xF8, 0, 0)]
# Transport corner cases.
seeds["transport"] = [b"\x00\xa4", b"\x00\xcb\x3f\xff\x05\x5c", short(0x80, 0xCB, 0x3F, 0xFF, b"\x5c\x01\x7e"),
                      short(0x10, 0xCB, 0x3F, 0xFF, b"\x5c\x01"), short(0, 0xDB, 0x3F, 0xFF, b"\x7e"),
                      b"\x00\xcb\x3f\xff\x00\x00\x00", short(0, 0xC0, 0, 0, le=0), short(0, 0x12, 0, 0)]

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, seq in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        for a in seq:
            f.write(a if a in (POWER, GRANT_MGM, GRANT_PIN) else rec(a))

"""G.711 against the reference algorithm, sample by sample, for every 16-bit input."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.codecs import g711
from media.codecs.g711 import (
    PCMA,
    PCMU,
    G711Codec,
    alaw_decode,
    alaw_encode,
    ulaw_decode,
    ulaw_encode,
)
from media.frames import AudioFrame

ALL = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
CODES = np.arange(256, dtype=np.uint8)


# The reference algorithms as ITU-T G.191 (STL) states them for 16-bit samples, written out
# with scalar integer arithmetic so they share nothing with the table builders under test.
def ref_ulaw_compress(x: int) -> int:
    absno = ((~x) >> 2) + 33 if x < 0 else (x >> 2) + 33
    absno = min(absno, 0x1FFF)
    i = absno >> 6
    segno = 1
    while i != 0:
        segno += 1
        i >>= 1
    high = 8 - segno
    low = 0xF - ((absno >> segno) & 0xF)
    code = (high << 4) | low
    return code | 0x80 if x >= 0 else code


def ref_ulaw_expand(code: int) -> int:
    sign = -1 if code < 0x80 else 1
    m = ~code & 0xFF
    exponent = (m >> 4) & 0x7
    segment = exponent + 1
    mantissa = m & 0xF
    step = 4 << segment
    return sign * ((0x80 << exponent) + step * mantissa + step // 2 - 4 * 33)


def ref_alaw_compress(x: int) -> int:
    ix = (~x) >> 4 if x < 0 else x >> 4
    if ix > 15:
        iexp = 1
        while ix > 16 + 15:
            ix >>= 1
            iexp += 1
        ix -= 16
        ix += iexp << 4
    if x >= 0:
        ix |= 0x80
    return ix ^ 0x55


def ref_alaw_expand(code: int) -> int:
    ix = (code ^ 0x55) & 0x7F
    iexp = ix >> 4
    mant = ix & 0xF
    if iexp > 0:
        mant += 16
    mant = (mant << 4) + 8
    if iexp > 1:
        mant <<= iexp - 1
    return mant if code > 127 else -mant


def test_ulaw_encode_matches_reference_for_every_sample() -> None:
    expected = np.array([ref_ulaw_compress(int(x)) for x in ALL], dtype=np.uint8)
    assert np.array_equal(ulaw_encode(ALL), expected)


def test_alaw_encode_matches_reference_for_every_sample() -> None:
    expected = np.array([ref_alaw_compress(int(x)) for x in ALL], dtype=np.uint8)
    assert np.array_equal(alaw_encode(ALL), expected)


def test_decoders_match_reference_for_every_code() -> None:
    assert ulaw_decode(CODES).tolist() == [ref_ulaw_expand(int(c)) for c in CODES]
    assert alaw_decode(CODES).tolist() == [ref_alaw_expand(int(c)) for c in CODES]


def test_known_values() -> None:
    assert ulaw_encode(np.array([0, -1, 32767, -32768], dtype=np.int16)).tolist() == [
        0xFF,
        0x7F,
        0x80,
        0x00,
    ]
    assert alaw_encode(np.array([0, -1, 32767, -32768], dtype=np.int16)).tolist() == [
        0xD5,
        0x55,
        0xAA,
        0x2A,
    ]
    assert ulaw_decode(bytes([0x00, 0x80, 0xFF, 0x7F])).tolist() == [-32124, 32124, 0, 0]
    assert alaw_decode(bytes([0x2A, 0xAA, 0xD5, 0x55])).tolist() == [-32256, 32256, 8, -8]


def test_codes_survive_decode_encode() -> None:
    # Every code but µ-law's negative zero (0x7F decodes to 0, which encodes as 0xFF).
    u = ulaw_encode(ulaw_decode(CODES))
    assert [int(c) for c in CODES if u[c] != c] == [0x7F]
    assert np.array_equal(alaw_encode(alaw_decode(CODES)), CODES)


def test_decode_encode_is_idempotent_and_monotonic() -> None:
    for enc, dec in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        once = dec(enc(ALL))
        assert np.array_equal(dec(enc(once)), once)
        # Quantisation keeps order: a larger input never decodes smaller.
        assert np.all(np.diff(once.astype(np.int32)) >= 0)


@given(st.integers(-32768, 32767))
def test_quantisation_error_is_within_half_a_step(x: int) -> None:
    for enc, dec in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        y = int(dec(enc(np.array([x], dtype=np.int16)))[0])
        # Both laws keep a step near 1/16 of the magnitude (less in the linear segments);
        # clipping at full scale adds µ-law's peak shortfall (32767 - 32124 = 643).
        bound = max(643, abs(x) // 16 + 16)
        assert abs(y - x) <= bound


def test_codec_objects_round_trip_frames() -> None:
    rng = np.random.default_rng(1)
    pcm = rng.integers(-20000, 20000, 160).astype(np.int16)
    for codec, enc, dec in ((PCMU, ulaw_encode, ulaw_decode), (PCMA, alaw_encode, alaw_decode)):
        payload = codec.encode(AudioFrame(pcm, 8000, 480))
        assert payload == enc(pcm).tobytes() and len(payload) == 160
        frame = codec.decode(payload, timestamp=480)
        assert frame.timestamp == 480 and np.array_equal(frame.samples, dec(enc(pcm)))
    assert (PCMU.payload_type, PCMA.payload_type) == (0, 8)
    with pytest.raises(ValueError):
        PCMU.encode(AudioFrame(np.zeros(320, dtype=np.int16), 16000))


def _audioop() -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return importlib.import_module("audioop")
        except ImportError:
            pytest.skip("audioop is gone (Python 3.13+)")


def test_cross_check_with_audioop() -> None:
    audioop = _audioop()
    raw = ALL.tobytes()
    assert alaw_encode(ALL).tobytes() == audioop.lin2alaw(raw, 2)  # type: ignore[attr-defined]
    assert ulaw_decode(CODES).tobytes() == audioop.ulaw2lin(CODES.tobytes(), 2)  # type: ignore[attr-defined]
    assert alaw_decode(CODES).tobytes() == audioop.alaw2lin(CODES.tobytes(), 2)  # type: ignore[attr-defined]
    theirs = np.frombuffer(audioop.lin2ulaw(raw, 2), dtype=np.uint8)  # type: ignore[attr-defined]
    ours = ulaw_encode(ALL)
    differ = ours != theirs
    # audioop negates negatives (two's complement) where the reference complements them:
    # identical for every non-negative sample, one code apart on a few boundary negatives.
    assert not differ[ALL >= 0].any()
    assert differ.sum() == 508
    assert np.all(np.abs(ours[differ].astype(int) - theirs[differ].astype(int)) == 1)


@pytest.mark.parametrize("codec", [PCMU, PCMA], ids=["PCMU", "PCMA"])
def test_decode_shared_is_decode_from_a_bounded_read_only_cache(
    codec: G711Codec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(g711, "SHARED_DECODED_MAX", 3)
    payloads = [bytes([i] * 160) for i in range(5)]
    for payload in payloads:
        shared = codec.decode_shared(payload, 480)
        assert shared == codec.decode(payload, 480)
        assert not shared.samples.flags.writeable  # every leg's frame shares these samples
        with pytest.raises(ValueError):
            shared.samples[0] = 1
    again = codec.decode_shared(payloads[4], 0)
    assert again.samples is codec.decode_shared(payloads[4], 160).samples
    cache = g711._SHARED_ULAW if codec is PCMU else g711._SHARED_ALAW
    assert len(cache) <= 3

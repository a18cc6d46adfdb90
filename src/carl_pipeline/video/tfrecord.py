"""TFRecord files of ``tf.train.SequenceExample`` in the TCC layout (the Pouring release),
read and written without TensorFlow.

Why not TensorFlow: with torch 2.14 and TensorFlow 2.21 in one process, importing TensorFlow
first makes a later ``import torchvision`` (or anything that loads ``torch._dynamo``) crash
with a segmentation fault. A pipeline that reads Pouring and then trains would die. The format is
small and stable, so it is implemented here: the record framing (length, masked CRC-32C, payload,
masked CRC-32C) and the ``tensorflow.SequenceExample`` protobuf messages, declared to the protobuf
runtime with the same field numbers as TensorFlow's ``example.proto`` and ``feature.proto``.
``tests/video/test_tfrecord.py`` checks, in a separate process, that TensorFlow reads what this
module writes and that this module reads what TensorFlow writes.

TCC layout of one record::

    context:        name (bytes), len (int64), label (int64)
                    [label_string, framelabels_string: optional, ignored]
    feature_lists:  video (one JPEG byte string per frame), frame_labels (one int64 per frame)
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from carl_pipeline.atomic import atomic_path

T = TypeVar("T")


class TFRecordError(ValueError):
    """A TFRecord file or record is malformed; the message names the file and byte offset."""


@dataclass(frozen=True)
class RecordLocation:
    """Where one record's payload lies in a TFRecord file."""

    path: str
    offset: int  # byte position of the payload
    length: int  # payload length in bytes


@dataclass(frozen=True)
class SequenceRecord:
    """One parsed TCC video record."""

    name: str
    num_frames: int
    label: int
    jpeg_frames: list[bytes]
    frame_labels: list[int]


# ----------------------------------------------------------------------------- record framing

_MASK_DELTA = 0xA282EAD8


def _masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC-32C of ``data``."""
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


@dataclass(frozen=True)
class RecordProblem:
    """A stretch of a TFRecord file that holds no readable record."""

    path: str
    offset: int  # byte position of the broken record header
    error: str  # what is wrong, naming the file and byte
    records_lost: int | None  # records lost there (None: unknown, the rest of the file)


def _header_ok(data: memoryview | bytes, position: int, size: int) -> int | None:
    """The payload length of a record whose header at ``position`` is intact and whose payload
    fits in the file, else None."""
    head = bytes(data[position:position + 12])
    if len(head) < 12:
        return None
    (length,) = struct.unpack("<Q", head[:8])
    if struct.unpack("<I", head[8:])[0] != _masked_crc(head[:8]) or position + 12 + length + 4 > size:
        return None
    return length


def _header_problem(data, position: int, size: int) -> str:
    """What is wrong with the record header at ``position`` (one that ``_header_ok`` refused)."""
    head = bytes(data[position:position + 12])
    if len(head) < 12:
        return f"truncated record header at byte {position}"
    (length,) = struct.unpack("<Q", head[:8])
    if struct.unpack("<I", head[8:])[0] != _masked_crc(head[:8]):
        return f"corrupt record length at byte {position}"
    return f"record at byte {position} claims {length} bytes, file ends first"


def _resync(data, start: int, size: int, chunk: int = 16 << 20) -> int | None:
    """The first byte at or after ``start`` where an intact record begins (its length and payload
    CRCs both check), or None. Lengths are under 4 GiB, so a header's bytes 4-7 are zero: only
    those positions are tried."""
    import numpy as np

    position = start
    while position + 16 <= size:
        stop = min(size, position + chunk + 8)
        window = np.frombuffer(data[position:stop], dtype=np.uint8)
        zero = window == 0
        four = zero[4:-3] & zero[5:-2] & zero[6:-1] & zero[7:] if len(window) >= 8 else np.zeros(0, bool)
        for candidate in (np.flatnonzero(four) + position).tolist():
            length = _header_ok(data, candidate, size)
            if length is None:
                continue
            payload = bytes(data[candidate + 12:candidate + 12 + length])
            crc = bytes(data[candidate + 12 + length:candidate + 16 + length])
            if struct.unpack("<I", crc)[0] == _masked_crc(payload):
                return candidate
        position = stop - 8
    return None


def scan_records(path: str | os.PathLike) -> tuple[list[RecordLocation], list[RecordProblem]]:
    """Every intact record framing of a TFRecord file, and the stretches that hold none.

    A corrupt length header loses its record, not the file: the scan looks for the next intact
    record (its length and payload CRCs both check) and goes on from there. Payload CRCs of the
    records found are checked when they are read (``read_record``). An empty file is a problem
    of its own.
    """
    import mmap

    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        return [], [RecordProblem(str(path), 0, f"{path}: empty file, no records", 0)]
    locations, problems = [], []
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        position = 0
        while position < size:
            length = _header_ok(data, position, size)
            if length is not None:
                locations.append(RecordLocation(str(path), position + 12, length))
                position += 12 + length + 4
                continue
            what = _header_problem(data, position, size)
            found = _resync(data, position + 1, size)
            if found is None:
                problems.append(RecordProblem(
                    str(path), position, f"{path}: {what}; the rest of the file "
                    f"({size - position} bytes, at least one record) is lost", None))
                break
            problems.append(RecordProblem(
                str(path), position, f"{path}: {what}; 1 record lost (bytes "
                f"{position}-{found}), reading goes on at byte {found}", 1))
            position = found
    return locations, problems


def iter_record_locations(path: str | os.PathLike) -> Iterator[RecordLocation]:
    """Yield the location of every record in a TFRecord file, checking the length CRCs.

    Raises:
        TFRecordError: the file ends inside a record, or a length is corrupt (after yielding
        the records before it); ``scan_records`` reports such stretches and goes on instead.
    """
    locations, problems = scan_records(path)
    first_problem = problems[0].offset if problems and problems[0].records_lost != 0 else None
    for location in locations:
        if first_problem is not None and location.offset > first_problem:
            break
        yield location
    if first_problem is not None:
        raise TFRecordError(problems[0].error)


def interleaved_read_order(records_per_file: Sequence[Sequence[T]]) -> list[T]:
    """The order in which ``tf.data.TFRecordDataset(files, num_parallel_reads=N)`` yields records
    when N >= the number of files (CARL's released ``tfrecords_to_videos.py`` reads with N = 60):
    one record of each file in turn, round robin, a file leaving the cycle when it runs out.

    Args:
        records_per_file: per file, in the order the files are given, its records in file order.
    """
    order, position = [], 0
    while True:
        row = [records[position] for records in records_per_file if position < len(records)]
        if not row:
            return order
        order.extend(row)
        position += 1


def read_record(location: RecordLocation) -> bytes:
    """The payload bytes of one record, checked against its CRC."""
    with open(location.path, "rb") as handle:
        handle.seek(location.offset)
        payload = handle.read(location.length)
        crc = handle.read(4)
    if len(payload) != location.length or len(crc) != 4:
        raise TFRecordError(f"{location.path}: record at byte {location.offset} truncated")
    if struct.unpack("<I", crc)[0] != _masked_crc(payload):
        raise TFRecordError(f"{location.path}: record at byte {location.offset} fails its CRC check")
    return payload


def write_records(path: str | os.PathLike, payloads: Sequence[bytes]) -> Path:
    """Write payloads as a TFRecord file, atomically (temporary file, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        for payload in payloads:
            length = struct.pack("<Q", len(payload))
            handle.write(length + struct.pack("<I", _masked_crc(length)))
            handle.write(payload + struct.pack("<I", _masked_crc(payload)))
    return path


# ----------------------------------------------------------------------------- protobuf messages


@cache
def _messages():
    """Message classes equal on the wire to ``tensorflow.SequenceExample`` and its parts."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="carl_tf_example.proto", package="carl_tf", syntax="proto3")

    def message(name, *fields, nested=()):
        msg = file.message_type.add(name=name)
        for nested_msg in nested:
            msg.nested_type.add().CopyFrom(nested_msg)
        for number, field_name, kind, label, type_name, oneof in fields:
            field = msg.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = type_name
            if oneof is not None:
                field.oneof_index = oneof
        return msg

    def map_entry(name, value_type):
        entry = descriptor_pb2.DescriptorProto(name=name)
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
        entry.field.add(name="value", number=2, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL, type_name=value_type)
        return entry

    rep, opt = F.LABEL_REPEATED, F.LABEL_OPTIONAL
    message("BytesList", (1, "value", F.TYPE_BYTES, rep, None, None))
    message("FloatList", (1, "value", F.TYPE_FLOAT, rep, None, None))
    message("Int64List", (1, "value", F.TYPE_INT64, rep, None, None))
    feature = message("Feature", (1, "bytes_list", F.TYPE_MESSAGE, opt, ".carl_tf.BytesList", 0),
                      (2, "float_list", F.TYPE_MESSAGE, opt, ".carl_tf.FloatList", 0),
                      (3, "int64_list", F.TYPE_MESSAGE, opt, ".carl_tf.Int64List", 0))
    feature.oneof_decl.add(name="kind")
    message("Features", (1, "feature", F.TYPE_MESSAGE, rep, ".carl_tf.Features.FeatureEntry", None),
            nested=[map_entry("FeatureEntry", ".carl_tf.Feature")])
    message("FeatureList", (1, "feature", F.TYPE_MESSAGE, rep, ".carl_tf.Feature", None))
    message("FeatureLists", (1, "feature_list", F.TYPE_MESSAGE, rep, ".carl_tf.FeatureLists.FeatureListEntry", None),
            nested=[map_entry("FeatureListEntry", ".carl_tf.FeatureList")])
    message("SequenceExample", (1, "context", F.TYPE_MESSAGE, opt, ".carl_tf.Features", None),
            (2, "feature_lists", F.TYPE_MESSAGE, opt, ".carl_tf.FeatureLists", None))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("carl_tf.SequenceExample"))


def parse_sequence_example(payload: bytes, *, source: str = "<bytes>") -> SequenceRecord:
    """Parse one TCC ``SequenceExample`` record.

    Raises:
        TFRecordError: the record is not a SequenceExample or lacks ``name`` or ``video``.
    """
    from google.protobuf.message import DecodeError

    try:
        example = _messages().FromString(payload)
    except DecodeError as error:
        raise TFRecordError(f"{source}: not a SequenceExample ({error})") from error
    context = example.context.feature
    lists = example.feature_lists.feature_list
    if "name" not in context or not context["name"].bytes_list.value or "video" not in lists:
        raise TFRecordError(f"{source}: record lacks context 'name' or sequence 'video'")
    name = context["name"].bytes_list.value[0].decode("utf-8")
    jpeg_frames = [f.bytes_list.value[0] for f in lists["video"].feature]
    if "frame_labels" in lists:
        frame_labels = [int(f.int64_list.value[0]) for f in lists["frame_labels"].feature]
    else:
        frame_labels = [-1] * len(jpeg_frames)
    num_frames = int(context["len"].int64_list.value[0]) if "len" in context else len(jpeg_frames)
    label = int(context["label"].int64_list.value[0]) if "label" in context else -1
    return SequenceRecord(name, num_frames, label, jpeg_frames, frame_labels)


def serialize_sequence_example(video: Mapping, *, extra_context: bool = False) -> bytes:
    """One video as TCC ``SequenceExample`` bytes (see ``write_sequence_examples``)."""
    example = _messages()()
    frames = list(video["jpeg_frames"])
    context = example.context.feature
    context["name"].bytes_list.value.append(video["name"].encode("utf-8"))
    context["len"].int64_list.value.append(len(frames))
    context["label"].int64_list.value.append(int(video["label"]))
    if extra_context:
        context["label_string"].bytes_list.value.append(b"pour")
        context["framelabels_string"].bytes_list.value.append(b"phase")
    lists = example.feature_lists.feature_list
    for frame in frames:
        lists["video"].feature.add().bytes_list.value.append(frame)
    for value in video["frame_labels"]:
        lists["frame_labels"].feature.add().int64_list.value.append(int(value))
    return example.SerializeToString(deterministic=True)  # map entries in key order


def write_sequence_examples(
    path: str | os.PathLike,
    videos: Sequence[Mapping],
    *,
    extra_context: bool = False,
) -> Path:
    """Write videos as TCC ``SequenceExample`` records (used by the demo-data generator and tests).

    Args:
        path: the ``.tfrecord`` file to write.
        videos: mappings with ``name`` (str), ``label`` (int), ``jpeg_frames`` (list of bytes) and
            ``frame_labels`` (list of int).
        extra_context: also write the context keys ``label_string`` and ``framelabels_string``
            that some TCC releases carry.
    """
    return write_records(path, [serialize_sequence_example(v, extra_context=extra_context) for v in videos])

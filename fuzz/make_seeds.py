#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of every fuzz target under fuzz/corpus/<target>/.

    fuzz/make_seeds.py [BUILD_DIR]   (default build-checked; for state_seeds)

Most targets read their input with libFuzzer's FuzzedDataProvider, which
takes whole buffers from the front of the input and integers from the back;
the device targets (mmio_transport, balloon, block, net, ports) read guest scripts
(devices/testing/guest_scripts.h), little-endian integers from the front.
The Input class below lays a seed out either way, so each seed is a
realistic session (a driver's probe, a chain of PFNs, a request). The
state_load and migration_stream seeds come from the project's own writers
(fuzz/state_seeds.cc, built by VMM_FUZZ). Seeds are regenerated whole;
regression-* inputs found by fuzzing are kept.
"""
import pathlib
import struct
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent
CORPUS = ROOT / "corpus"


class Input:
    """Builds an input in FuzzedDataProvider's order of consumption, or with
    script=True in a guest script's (devices::testing::ByteSource)."""

    def __init__(self, script=False):
        self.script = script
        self.front = bytearray()
        self.back = bytearray()  # in consumption order, each value MSB first

    def data(self, raw: bytes):
        self.front += raw
        return self

    def int(self, value: int, size: int):
        value %= 1 << (8 * size)
        if self.script:
            self.front += value.to_bytes(size, "little")
        else:
            self.back += value.to_bytes(size, "big")
        return self

    def u8(self, v): return self.int(v, 1)
    def u32(self, v): return self.int(v, 4)
    def u64(self, v): return self.int(v, 8)

    def in_range(self, value: int, lo: int, hi: int):
        """ConsumeIntegralInRange: as many bytes as hi - lo needs."""
        span, size = hi - lo, 0
        while size < 8 and (span >> (8 * size)) > 0:
            size += 1
        if size:
            self.int(value - lo, size)
        return self

    def chars(self, text: bytes):
        for c in text:
            self.u8(c)
        return self

    def bytes(self) -> bytes:
        return bytes(self.front) + bytes(reversed(self.back))


def write(target: str, name: str, data: bytes):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def clear(target: str):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.iterdir():
        if not f.name.startswith("regression-"):
            f.unlink()


# --- virtio constants (linux/virtio_mmio.h, virtio_config.h, virtio_ring.h)
STATUS, DRIVER_FEATURES, DRIVER_FEATURES_SEL = 0x70, 0x20, 0x24
QUEUE_SEL, QUEUE_NUM, QUEUE_READY, QUEUE_NOTIFY = 0x30, 0x38, 0x44, 0x50
QUEUE_DESC_LOW, QUEUE_AVAIL_LOW, QUEUE_USED_LOW = 0x80, 0x90, 0xa0
ACK, DRIVER, FEATURES_OK, DRIVER_OK = 1, 2, 8, 4
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
EVENT_IDX = 29


def desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def ring_image(descs, heads, size=16, desc_at=0, avail_at=0x100, buffers=()):
    """Low RAM: descriptor table, avail ring with `heads`, buffers."""
    image = bytearray(0x400)
    for i, d in enumerate(descs):
        image[desc_at + 16 * i: desc_at + 16 * (i + 1)] = d
    avail = struct.pack("<HH", 0, len(heads)) + b"".join(struct.pack("<H", h) for h in heads)
    image[avail_at:avail_at + len(avail)] = avail
    for at, data in buffers:
        image[at:at + len(data)] = data
    return bytes(image)


def queue_seeds():
    clear("queue")
    # Header: max_size, size, event_idx, pops, (pad), desc, avail, used.
    def header(size=16, event_idx=0, pops=4, desc_at=0, avail_at=0x100, used_at=0x200):
        return struct.pack("<HHBBxxIII", 16, size, event_idx, pops, desc_at, avail_at, used_at)
    chain = ring_image([desc(0x300, 16, F_NEXT, 1), desc(0x340, 32, F_WRITE, 0)], [0])
    write("queue", "two-descriptor-chain", header() + chain)
    indirect = ring_image([desc(0x300, 32, F_INDIRECT, 0)], [0],
                          buffers=[(0x300, desc(0x380, 8, F_NEXT, 1) + desc(0x390, 8, F_WRITE, 0))])
    write("queue", "indirect-chain", header(event_idx=1) + indirect)
    loop = ring_image([desc(0x300, 4, F_NEXT, 1), desc(0x310, 4, F_NEXT, 0)], [0, 1])
    write("queue", "looping-chain", header(pops=2) + loop)
    high = ring_image([desc((1 << 20) + 0x100, 64, 0, 0)], [0])
    write("queue", "buffer-in-high-region", header() + high)


def mmio_ops(inp: Input, writes):
    """mmio_transport_fuzzer ops: (kind, offset, value)."""
    for kind, offset, value in writes:
        if kind == "w":
            inp.u8(0x00).u8(offset // 4).u8(2).u64(value)
        elif kind == "r":
            inp.u8(0x20).u8(offset // 4).u8(2).u64(0)
        elif kind == "ram":  # 4 bytes of `value` low half at gpa in the high half
            inp.u8(0x40).u8(0).u8(0).u64((offset << 32) | value)
        elif kind == "notify":
            inp.u8(0x60).u8(0).u8(0).u64(offset)
        elif kind == "cfg":
            inp.u8(0x90 | offset).u8(1).u64(value)  # config space, 2 bytes
    return inp


def probe(features_lo, features_hi, queues):
    ops = [("w", STATUS, ACK), ("w", STATUS, ACK | DRIVER), ("r", 0x10, 0),
           ("w", DRIVER_FEATURES_SEL, 0), ("w", DRIVER_FEATURES, features_lo),
           ("w", DRIVER_FEATURES_SEL, 1), ("w", DRIVER_FEATURES, features_hi),
           ("w", STATUS, ACK | DRIVER | FEATURES_OK), ("r", STATUS, 0)]
    for q, (num, desc_at, avail_at, used_at) in enumerate(queues):
        ops += [("w", QUEUE_SEL, q), ("r", 0x34, 0), ("w", QUEUE_NUM, num), ("w", QUEUE_DESC_LOW, desc_at),
                ("w", QUEUE_AVAIL_LOW, avail_at), ("w", QUEUE_USED_LOW, used_at), ("w", QUEUE_READY, 1)]
    ops.append(("w", STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK))
    return ops


def mmio_seeds():
    clear("mmio_transport")
    queues = [(16, 0x1000, 0x1100, 0x1200), (8, 0x2000, 0x2100, 0x2200)]
    ops = probe(1 | 8 | (1 << EVENT_IDX), 1, queues)
    # One descriptor and an avail entry for queue 0, then a notification.
    d = desc(0x3000, 64, F_WRITE, 0)
    for i in range(0, 16, 4):
        ops.append(("ram", 0x1000 + i, struct.unpack("<I", d[i:i + 4])[0]))
    ops += [("ram", 0x1100, 1 << 16), ("ram", 0x1104, 0), ("notify", 0, 0), ("r", 0x60, 0),
            ("w", 0x64, 1), ("cfg", 2, 0xabcd)]
    write("mmio_transport", "probe-and-notify", mmio_ops(Input(script=True), ops).bytes())
    write("mmio_transport", "probe-then-reset", mmio_ops(Input(script=True), probe(1, 1, queues) + [("w", STATUS, 0)]).bytes())
    write("mmio_transport", "features-refused", mmio_ops(Input(script=True), probe(1 << 7, 0, queues)).bytes())
    write("mmio_transport", "no-queues", mmio_ops(Input(script=True), probe(0, 1, [])).bytes())


RAM_PAGES = ((1 << 20) + (64 << 10)) // 4096
STATS_VQ, DEFLATE_ON_OOM, FREE_PAGE_HINT, PAGE_POISON, REPORTING = 1, 2, 3, 4, 5


def balloon_chain(inp: Input, queue, buffers):
    """OfferChain: `buffers` is a list of ("pfns", [pfn...], writable) or
    ("range", gpa, length, writable)."""
    inp.op(0).in_range(queue, 0, 4).in_range(len(buffers), 1, 3)
    for b in buffers:
        if b[0] == "pfns":
            inp.u8(1 if b[2] else 0).in_range(len(b[1]), 0, 300)
            for pfn in b[1]:
                inp.in_range(pfn, 0, RAM_PAGES + 8)
        elif b[0] == "chunks":  # range-format entries: (page, order) pairs
            inp.u8(8).in_range(len(b[1]), 0, 260)
            for page, order in b[1]:
                inp.in_range(page, 0, RAM_PAGES + 8).in_range(order, 0, 20)
        elif b[0] == "raw":  # 32-bit words taken whole (stats records, hint ids)
            words = b[1]
            inp.u8(4).in_range(len(words), 0, 300)
            for w in words:
                inp.u32(w)
        else:
            inp.u8(2 | (1 if b[3] else 0)).u32(b[1]).u32(b[2])


def balloon_input(features, queue_mask=0x1f, options=0x3f):
    inp = Input(script=True)
    inp.op = lambda op: inp.u8(op)
    inp.u8(options).u64(features).u8(queue_mask)
    return inp


def balloon_seeds():
    clear("balloon")
    v1 = 1 << 32
    all_features = v1 | (1 << EVENT_IDX) | 1 | (1 << STATS_VQ) | (1 << DEFLATE_ON_OOM) | \
        (1 << FREE_PAGE_HINT) | (1 << REPORTING)
    # Inflate, deflate, target and config `actual`.
    inp = balloon_input(v1 | 1)
    inp.u8(3).in_range(8, 0, RAM_PAGES)
    balloon_chain(inp, 0, [("pfns", [20, 21, 22, 23, 260, 261], False)])
    inp.u8(2 | 8).u32(6).in_range(4, 0, 0x20).in_range(2, 0, 2)
    balloon_chain(inp, 1, [("pfns", [21, 22], False)])
    write("balloon", "inflate-deflate", inp.bytes())
    # Stats: the driver's primed buffer, a host request, fresh figures.
    inp = balloon_input(v1 | (1 << STATS_VQ))
    tag_val = [0x00000000, 0x10000000, 0x00000000, 0x00040004, 0x00000000]  # tag 0/4 records, roughly
    balloon_chain(inp, 2, [("raw", tag_val)])
    inp.u8(4 | (4 << 3))
    balloon_chain(inp, 2, [("raw", tag_val)])
    write("balloon", "stats", inp.bytes())
    # Free page hinting: host starts, the guest echoes the id, sends pages, stops.
    inp = balloon_input(all_features)
    inp.u8(4 | (0 << 3))
    balloon_chain(inp, 3, [("raw", [0x80000000])])
    balloon_chain(inp, 3, [("range", 0x4000, 0x2000, True)])
    balloon_chain(inp, 3, [("raw", [0])])
    inp.u8(4 | (3 << 3)).u8(4 | (2 << 3))
    write("balloon", "free-page-hint", inp.bytes())
    # Free page reporting: a writable buffer naming guest pages.
    inp = balloon_input(all_features)
    balloon_chain(inp, 4, [("range", 0x8000, 0x4000, True), ("range", 1 << 20, 0x1000, True)])
    write("balloon", "reporting", inp.bytes())
    # Reset in the middle, then a stray notification.
    inp = balloon_input(v1 | 1)
    balloon_chain(inp, 0, [("pfns", [30, 31], False)])
    inp.u8(5).u8(STATUS // 4).u32(0)
    inp.u8(5).u8(QUEUE_NOTIFY // 4).u32(0)
    write("balloon", "reset", inp.bytes())
    # The range format (chunks, bit 23): blocks of several orders, one
    # overlapping and one misaligned, then a deflate of part of them.
    inp = balloon_input(v1 | (1 << 23), options=0x7f)
    balloon_chain(inp, 0, [("chunks", [(16, 4), (64, 6), (18, 0), (33, 1)])])
    balloon_chain(inp, 1, [("chunks", [(64, 5), (16, 0), (128, 0)])])
    write("balloon", "chunks", inp.bytes())


def block_request(inp: Input, type_index, sector, buffers, ranges=b""):
    """One request in Linux's framing (fuzz/block_fuzzer.cc, OfferRequest):
    buffers are (offset from the data area, sectors, writable)."""
    inp.u8(type_index).u8(0).in_range(sector, 0, 130).in_range(len(buffers), 0, 4)
    for offset, sectors, writable in buffers:
        inp.u8(9 if writable else 1).in_range(offset, 0, 1 << 20).in_range(sectors, 0, 16)
    if ranges:
        inp.data(ranges[:64].ljust(min(64, buffers[0][1] * 512), b"\0"))
    inp.u8(0)  # shape: header + data + status


def block_seeds():
    clear("block")
    IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES = range(6)
    # Requests in one notification: (action 0, count - 1, then each).
    def session(name, requests, readonly=0):
        inp = Input(script=True).u8(readonly).u8(0)
        inp.in_range(0, 0, 5).in_range(len(requests), 1, 8)
        for r in requests:
            block_request(inp, *r)
        write("block", name, inp.bytes())

    session("write-read-flush", [(OUT, 4, [(0, 2, False)]), (IN, 4, [(4096, 2, True)]), (FLUSH, 0, [])])
    session("get-id", [(GET_ID, 0, [(0, 1, True)])])
    one_range = struct.pack("<QII", 8, 16, 0)
    session("discard", [(DISCARD, 0, [(0, 1, False)], one_range)])
    session("write-zeroes-unmap", [(WRITE_ZEROES, 0, [(0, 1, False)], struct.pack("<QII", 0, 128, 1))])
    session("read-past-the-end", [(IN, 127, [(0, 2, True)])])
    session("readonly-write", [(OUT, 0, [(0, 1, False)])], readonly=1)


def net_header(inp: Input, flags=0, gso_type=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    inp.u8(flags).u8(gso_type)
    for v in (hdr_len, gso_size, csum_start, csum_offset, 0):
        inp.int(v, 2)


def net_chain(inp: Input, total, pieces):
    """A chain over `total` bytes (fuzz/net_fuzzer.cc, Chain): the lengths
    of all pieces but the last, which takes the rest."""
    inp.in_range(len(pieces) + 1, 1, 4)
    for length in pieces:
        inp.u8(0).in_range(length, 0, total)
    inp.u8(0)


def net_send(inp: Input, frames):
    """Action 0: frames of (header fields, frame bytes, piece lengths)."""
    inp.in_range(0, 0, 6).in_range(len(frames), 1, 8)
    for header, length, pieces in frames:
        net_header(inp, **header)
        inp.u8(0).in_range(length, 0, 1600)
        net_chain(inp, 12 + length, pieces)


def net_receive(inp: Input, length, room, pieces, header=None):
    """Action 2: a frame from the host, then a receive chain of `room`."""
    inp.in_range(2, 0, 6)
    net_header(inp, **(header or {}))
    inp.u8(0).in_range(length, 0, 1600).u8(255).in_range(room, 0, 3200)
    net_chain(inp, room, pieces)


def net_seeds():
    clear("net")
    NEEDS_CSUM, DATA_VALID, TCPV4, TCPV6 = 1, 2, 1, 4
    tso4 = dict(flags=NEEDS_CSUM, gso_type=TCPV4, hdr_len=54, gso_size=1448, csum_start=34, csum_offset=16)
    inp = Input(script=True).u8(0)
    net_send(inp, [({}, 100, [])])
    write("net", "send-plain", inp.bytes())
    inp = Input(script=True).u8(0)
    net_send(inp, [(tso4, 1500, [12, 200]), (dict(tso4, gso_type=TCPV6, csum_start=54), 1500, [])])
    write("net", "send-tso-split", inp.bytes())
    inp = Input(script=True).u8(0x3f)  # no offloads: the same TSO frame is refused
    net_send(inp, [(tso4, 1500, [])])
    write("net", "send-tso-refused", inp.bytes())
    inp = Input(script=True).u8(0)
    net_receive(inp, 300, 2000, [12])
    net_receive(inp, 1000, 1500, [], header=dict(flags=DATA_VALID))
    write("net", "receive", inp.bytes())
    inp = Input(script=True).u8(0)
    net_receive(inp, 1500, 100, [])
    write("net", "receive-too-small", inp.bytes())
    inp = Input(script=True).u8(0)
    inp.in_range(5, 0, 6).in_range(6, 1, 8).in_range(0, 0, 40)  # the MAC
    inp.in_range(6, 0, 6)  # reset and probe again
    net_send(inp, [({}, 60, [])])
    write("net", "config-and-reset", inp.bytes())
    inp = Input(script=True).u8(0)
    inp.in_range(3, 0, 6).u8(1).in_range(4096 + 2, 0, 12286).int(7, 2).in_range(1, 0, 2)  # tx avail idx
    net_send(inp, [({}, 60, [])])
    write("net", "corrupt-ring", inp.bytes())


def ports_seeds():
    clear("ports")
    # op: low nibble device (0 com1, 1 cmos, 2 pm, 3 i8042, 4 reset, 5 pvpanic),
    # bits 4-5 width, bits 6-7: 0-1 write, 2 read, 3 serial input.
    def ops(seq):
        inp = Input(script=True)
        for device, offset, width_log, kind, value in seq:
            inp.u8(device | (width_log << 4) | (kind << 6)).in_range(offset, 0, 8).u64(value)
        return inp.bytes()
    write("ports", "uart", ops([(0, 3, 0, 0, 0x80), (0, 0, 0, 0, 1), (0, 3, 0, 0, 0x03), (0, 1, 0, 0, 0x0f),
                                (0, 0, 0, 0, ord("x")), (0, 2, 0, 2, 0), (0, 0, 0, 3, 0x61626364),
                                (0, 5, 0, 2, 0), (0, 0, 0, 2, 0), (0, 4, 0, 0, 0x10), (0, 7, 0, 0, 0x55)]))
    write("ports", "cmos", ops([(1, 0, 0, 0, 0x0a), (1, 1, 0, 2, 0), (1, 0, 0, 0, 0x8b), (1, 1, 0, 2, 0),
                                (1, 0, 0, 0, 0x32), (1, 1, 0, 2, 0)]))
    write("ports", "acpi-pm", ops([(2, 2, 1, 0, 0x0100), (2, 0, 1, 2, 0), (2, 0, 1, 0, 0xffff),
                                   (2, 4, 1, 0, (5 << 10) | (1 << 13)), (2, 4, 1, 2, 0), (2, 0, 2, 2, 0)]))
    write("ports", "reset-and-panic", ops([(3, 4, 0, 0, 0xfe), (4, 0, 0, 0, 0x06), (5, 0, 0, 0, 1),
                                           (5, 0, 0, 2, 0)]))


def api_seeds():
    clear("api_handler")
    requests = {
        "get-vm": b"GET\n/api/v1/vm\n",
        "put-balloon": b'PUT\n/api/v1/balloon\n{"size_mib": 64}',
        "get-balloon": b"GET\n/api/v1/balloon\n",
        "balloon-statistics": b"GET\n/api/v1/balloon/statistics\n",
        "put-migrate": b'PUT\n/api/v1/migrate\n{"destination": "tcp:127.0.0.1:4444", "downtime_ms": 50}',
        "get-migrate": b"GET\n/api/v1/migrate\n",
        "put-snapshot": b'PUT\n/api/v1/snapshot\n{"path": "/tmp/snap"}',
        "bad-json": b'PUT\n/api/v1/balloon\n{"size_mib": ',
        # nlohmann::json threw on dumping an error that quoted these bytes.
        "regression-invalid-utf8-path": b"GET\n/api/v2/\xff\n",
    }
    for name, data in requests.items():
        write("api_handler", name, data)


def elf64(entry=0x1000000, paddr=0x100000, payload=b"\x90" * 64, notes=b""):
    """A minimal x86-64 ELF executable with one PT_LOAD (and a PT_NOTE)."""
    phnum = 2 if notes else 1
    ehdr_size, phdr_size = 64, 56
    data_off = ehdr_size + phdr_size * phnum
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, ehdr_size, 0, 0, ehdr_size, phdr_size,
                               phnum, 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 7, data_off, paddr, paddr, len(payload), len(payload) + 256, 0x1000)
    phdrs = load
    if notes:
        phdrs += struct.pack("<IIQQQQQQ", 4, 4, data_off + len(payload), 0, 0, len(notes), len(notes), 4)
    return ehdr + phdrs + payload + notes


def bzimage(payload: bytes, version=0x020f):
    """A bzImage: boot sector, setup header, one setup sector, then the
    protected-mode part whose payload_offset/length point at `payload`."""
    setup_sects = 1
    image = bytearray(512 * (setup_sects + 1))
    image[0x1f1] = setup_sects
    struct.pack_into("<H", image, 0x1fe, 0xaa55)
    image[0x201] = 0x6a  # setup header length from 0x202 (to 0x26c)
    struct.pack_into("<I", image, 0x202, 0x53726448)
    struct.pack_into("<H", image, 0x206, version)
    image[0x211] = 0x01  # loadflags: LOADED_HIGH
    struct.pack_into("<I", image, 0x22c, 0x7fffffff)  # initrd_addr_max
    struct.pack_into("<I", image, 0x230, 0x200000)  # kernel_alignment
    image[0x234] = 1  # relocatable
    struct.pack_into("<H", image, 0x236, 1)  # xloadflags: XLF_KERNEL_64
    struct.pack_into("<I", image, 0x238, 2048)  # cmdline_size
    struct.pack_into("<I", image, 0x248, 0x10)  # payload_offset (in the protected-mode part)
    struct.pack_into("<I", image, 0x24c, len(payload))
    pm = bytearray(0x10) + payload
    return bytes(image) + bytes(pm)


def boot_seeds():
    import gzip
    clear("boot_loader")
    note = struct.pack("<III", 4, 4, 18) + b"Xen\0" + struct.pack("<I", 0x1000100)
    kernel = elf64(notes=note)
    write("boot_loader", "elf-kernel", Input().data(kernel).u8(0).bytes())
    gz = gzip.compress(kernel, mtime=0)
    write("boot_loader", "bzimage-gzip", Input().data(bzimage(gz)).u8(0).bytes())
    write("boot_loader", "bzimage-header", Input().data(bzimage(gz)).u8(1).bytes())
    # UBSan: the error message bound a reference to the packed, misaligned
    # setup_header.boot_flag.
    bad_flag = bytearray(bzimage(gz))
    bad_flag[0x1fe] = 0x12
    write("boot_loader", "regression-bad-boot-flag", Input().data(bytes(bad_flag)).u8(1).bytes())
    write("boot_loader", "initrd", Input().data(b"070701" + bytes(200)).u8(2).u64(0x37ffffff).u64(0x200000).bytes())


def command_line_seeds():
    clear("command_line")
    def flags(switches, memory, balloon, timeout, console, notify, incoming, cpus, cmdline=b""):
        inp = Input().u8(switches)
        for text in (memory, balloon, timeout, console, notify, incoming):
            inp.chars(text + b"\n")
        inp.u8(cpus)
        inp.data(cmdline)
        return inp.bytes()
    write("command_line", "defaults", flags(1, b"512M", b"0", b"", b"stdio", b"inline", b"", 1))
    write("command_line", "cmdline", flags(1 | 4, b"1G", b"128M", b"90s", b"file:/tmp/c", b"thread",
                                           b"tcp:127.0.0.1:4444", 4, b"console=ttyS0 quiet panic=-1"))
    write("command_line", "host-limit", flags(1 | 2, b"2G", b"1G", b"5m", b"stdio", b"inline",
                                              b"unix:/tmp/s", 2))
    write("command_line", "bad-values", flags(0, b"12Q", b"-1", b"soon", b"tty", b"poll", b"tcp:x", 0))


def generated_seeds(build: pathlib.Path):
    tool = build / "fuzz" / "state_seeds"
    if not tool.exists():
        sys.exit(f"make_seeds: {tool} is missing; build it first (cmake --build {build} --target state_seeds)")
    clear("state_load")
    clear("migration_stream")
    subprocess.run([str(tool), str(CORPUS / "state_load"), str(CORPUS / "migration_stream")], check=True)


def main():
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "build-checked")
    queue_seeds()
    mmio_seeds()
    balloon_seeds()
    block_seeds()
    net_seeds()
    ports_seeds()
    api_seeds()
    boot_seeds()
    command_line_seeds()
    generated_seeds(build)


if __name__ == "__main__":
    main()

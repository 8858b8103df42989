"""What the parity scripts (parity.py for x070, parity_x060.py for x060) share."""
import struct


def write_binidx(prefix, docs):  # Megatron MMIDIDX, uint16 tokens
    with open(prefix + ".bin", "wb") as f:
        for d in docs:
            f.write(struct.pack(f"<{len(d)}H", *d))
    with open(prefix + ".idx", "wb") as f:
        f.write(b"MMIDIDX\x00\x00" + struct.pack("<QBQQ", 1, 8, len(docs), len(docs) + 1))
        f.write(struct.pack(f"<{len(docs)}i", *[len(d) for d in docs]))
        ptrs, off = [], 0
        for d in docs:
            ptrs.append(off)
            off += 2 * len(d)
        f.write(struct.pack(f"<{len(docs)}q", *ptrs))
        f.write(struct.pack(f"<{len(docs) + 1}q", *range(len(docs) + 1)))

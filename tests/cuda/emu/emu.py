"""emu.py IN.cu OUT.cpp: rewrite each kernel launch `k<<<grid, block, shmem,
stream>>>(args);` as `emu_launch(grid, block, shmem, stream, [&] { k(args); });`
so that a C++ compiler can build a .cu file against emu_cuda.h."""
import sys


def balanced(s, i, open_, close):
    """Index just past the bracket that closes the one opening at s[i]."""
    depth = 0
    for j in range(i, len(s)):
        if s[j] == open_:
            depth += 1
        elif s[j] == close:
            depth -= 1
            if depth == 0:
                return j + 1
    raise SystemExit("unbalanced %s at %d" % (open_, i))


def rewrite(src):
    out, i = [], 0
    while True:
        at = src.find("<<<", i)
        if at < 0:
            out.append(src[i:])
            return "".join(out)
        name_start = at
        while name_start > 0 and (src[name_start - 1].isalnum() or src[name_start - 1] == "_"):
            name_start -= 1
        end_cfg = src.find(">>>", at)
        cfg = src[at + 3:end_cfg]
        args_end = balanced(src, end_cfg + 3, "(", ")")
        name, args = src[name_start:at], src[end_cfg + 3:args_end]
        out.append(src[i:name_start])
        out.append("emu_launch(%s, [&] { %s%s; })" % (cfg, name, args))
        i = args_end


with open(sys.argv[1]) as f:
    text = rewrite(f.read())
with open(sys.argv[2], "w") as f:
    f.write(text)

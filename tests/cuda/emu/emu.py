"""emu.py IN.cu OUT.cpp: rewrite each kernel launch `k<<<grid, block, shmem,
stream>>>(args);` as `emu_launch(grid, block, shmem, stream, [&] { k(args); });`
so that a C++ compiler can build a .cu file against emu_cuda.h.

A kernel whose threads never meet (no __syncthreads, no warp shuffle, no
cu_block_sum, directly or through a __device__ helper of its file) is
launched with emu_launch_serial instead: its threads run one after another
on the calling thread, which is what a GPU may do too, and costs no thread
switches."""
import re
import sys

MEETS = ("__syncthreads", "__shfl", "cu_block_sum")


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


def bodies(src, qualifier):
    """{name: body} of the functions declared with qualifier."""
    out = {}
    for m in re.finditer(qualifier + r"[^;{(]*?\b(\w+)\s*\(", src):
        params_end = balanced(src, m.end() - 1, "(", ")")
        brace = src.find("{", params_end)
        gap = re.sub(r"//[^\n]*|/\*.*?\*/", "", src[params_end:brace] if brace >= 0 else ";", flags=re.S)
        if gap.strip():
            continue  # a declaration, not a definition
        out[m.group(1)] = src[brace:balanced(src, brace, "{", "}")]
    return out


def meeting_kernels(src):
    helpers = bodies(src, r"__device__")
    meets = {n for n, b in helpers.items() if any(k in b for k in MEETS)}
    grew = True
    while grew:  # helpers that call helpers that meet
        grew = False
        for n, b in helpers.items():
            if n not in meets and any(re.search(r"\b%s\s*\(" % h, b) for h in meets):
                meets.add(n)
                grew = True
    kernels = bodies(src, r"__global__")
    return {n for n, b in kernels.items()
            if any(k in b for k in MEETS) or any(re.search(r"\b%s\s*\(" % h, b) for h in meets)}


def rewrite(src):
    meet = meeting_kernels(src)
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
        launch = "emu_launch" if name in meet else "emu_launch_serial"
        out.append(src[i:name_start])
        out.append("%s(%s, [&] { %s%s; })" % (launch, cfg, name, args))
        i = args_end


with open(sys.argv[1]) as f:
    text = rewrite(f.read())
with open(sys.argv[2], "w") as f:
    f.write(text)

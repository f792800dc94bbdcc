# cdt: Contrastive Disentangling as small Unix tools.
#   make            build libcdt and the tools into $(OUT) (default build/);
#                   one line per step (`  CC file`), `make V=1` every command
#   make test       unit + tool tests;  make test SAN=1  the same under ASan/UBSan
#   make check      make deps, then both of the above (what CI runs)
#   make deps       install missing Debian packages (root) or print the apt-get line
#   make bench      benchmarks, each as a ratio against a reference in the same run
#   make fuzz       libFuzzer targets (clang);  make fuzz-smoke  a short run of each
#   make install PREFIX=/usr/local   bin, lib (libcdt.a, pkgconfig/cdt.pc), include,
#                   man, share/doc/cdt (LICENSE, README, docs, formats)
#   make demo       Fashion-MNIST: train, embed, cluster, score (README "Quick start": how long)
#   make folder-demo  Fashion-MNIST's test images as a folder of PNGs through pipelines/folder.mk
SAN ?=
FUZZ ?=
ifeq ($(FUZZ),1)
OUT ?= build-fuzz
CC := clang
# clang reports an `omp simd` loop it chose not to vectorise as a warning;
# that is a missed optimisation in an instrumented build, not a defect.
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	-Wno-pass-failed
else ifeq ($(SAN),1)
OUT ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
OUT ?= build
SANFLAGS :=
endif
PREFIX ?= /usr/local

# Quiet by default: one line per step, `  CC libcdt/core/blas.c`, `  LD
# build/bin/cdt-train`; V=1 shows every command as it runs. $(Q) starts a
# command, $(call say,WHAT,FILE) is its line. (The pipelines' own
# convention, the same V, is pipelines/steps.mk.)
V ?= 0
ifeq ($(V),1)
Q :=
say = @:
else
Q := @
say = @printf '  %s %s\n' '$(1)' '$(2)'
MAKEFLAGS += --no-print-directory
endif

# Asked of pkg-config when a recipe first needs them, not when make reads
# this file: `make deps demo` on a fresh machine reads it before deps has
# installed OpenBLAS or zstd (then both were empty and every link failed).
# Each is worked out once (the variable replaces itself on first use).
PKG_CONFIG ?= pkg-config
PKGS := openblas libzstd libpng libjpeg zlib
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null))$(PKG_LIBS)

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -Wall -Wextra -Werror -fopenmp -pthread $(SANFLAGS)
CPPFLAGS += -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -Ilibcdt/include $(PKG_CFLAGS) -MMD -MP
LDFLAGS += -fopenmp -pthread $(SANFLAGS)
LDLIBS += $(PKG_LIBS) -lm

# libcdt/comm/mpi is libcdt_mpi.so's (below), built with mpicc
LIB_SRC := $(sort $(shell find libcdt -name '*.c' -not -path 'libcdt/comm/mpi/*'))
LIB_OBJ := $(LIB_SRC:%.c=$(OUT)/obj/%.o)
LIB := $(OUT)/lib/libcdt.a
# every public header but the CUDA library's, which install-cuda adds
HEADERS := $(filter-out libcdt/include/cdt_cuda.h,$(wildcard libcdt/include/cdt*.h))

TOOL_SRC := $(wildcard tools/cdt-*.c)
TOOLS := $(TOOL_SRC:tools/%.c=$(OUT)/bin/%)
# The tools' shared helpers (cli.c, table.c, heads.c, ...: every tools/*.c
# that is not a tool) as an archive, so that each tool links only the
# helpers it uses; but those that nothing calls, whose constructor does
# their work (cli_stdout.c: stdout checked at exit), go into every tool whole.
CLI_SRC := $(filter-out tools/cdt-%.c,$(wildcard tools/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(OUT)/obj/%.o)
CLI_EVERY := $(OUT)/obj/tools/cli_stdout.o
TOOLS_LIB := $(OUT)/lib/libcdttools.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)

# libFuzzer targets: tests/fuzz/fuzz_NAME.c -> build-fuzz/fuzz/fuzz_NAME
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS := $(FUZZ_SRC:tests/fuzz/%.c=$(OUT)/fuzz/%)

.SECONDARY:
.PHONY: all test check deps need bench fuzz fuzz-build fuzz-smoke install clean demo folder-demo
all: $(LIB) $(TOOLS)

# Before any compiler runs: the compiler and the packages' pkg-config
# files, or one line naming the Debian packages missing and exit 1
# (scripts/need.sh). After deps when both are asked for (`make deps all`).
need: $(filter deps,$(MAKECMDGOALS))
	@CC='$(CC)' PKG_CONFIG='$(PKG_CONFIG)' scripts/need.sh $(PKGS)

# libcdt's private headers are reached by their path (nn/backend.h), from
# libcdt itself and from tests (nn/cpu/nn_f64.h)
$(OUT)/obj/tests/%.o: CPPFLAGS += -Ilibcdt
$(OUT)/obj/libcdt/%.o: CPPFLAGS += -Ilibcdt

# the direct 3x3 kernels (nn/cpu/conv3x3.h) want `acc += a * b` as one FMA,
# which ISO C mode does not contract on its own
$(OUT)/obj/libcdt/nn/cpu/conv2d.o $(OUT)/obj/libcdt/nn/cpu/f64.o: CFLAGS += -ffp-contract=fast

$(OUT)/obj/%.o: %.c | need
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB) $(TOOLS_LIB): | need
$(LIB): $(LIB_OBJ)
$(TOOLS_LIB): $(filter-out $(CLI_EVERY),$(CLI_OBJ))
$(LIB) $(TOOLS_LIB):
	@mkdir -p $(dir $@)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUT)/bin/%: $(OUT)/obj/tools/%.o $(CLI_EVERY) $(TOOLS_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $< $(CLI_EVERY) $(TOOLS_LIB) $(LIB) $(LDLIBS) -o $@

# Tools written in Python (tools/cdt-NAME without .c): copied as they are.
SCRIPT_TOOLS := $(OUT)/bin/cdt-import-pth
all: $(SCRIPT_TOOLS)
$(SCRIPT_TOOLS): $(OUT)/bin/%: tools/%
	@mkdir -p $(dir $@)
	$(call say,CP,$@)
	$(Q)cp $< $@ && chmod 755 $@

$(OUT)/tests/%: $(OUT)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(OUT)/fuzz/%: $(OUT)/obj/tests/fuzz/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer $< $(LIB) $(LDLIBS) -o $@

test: all $(UNITS)
	@tests/run.sh $(OUT)

check:
	$(MAKE) deps
	$(MAKE) test
	$(MAKE) test SAN=1
	$(MAKE) cuda-emu
	$(MAKE) fuzz-smoke

# What installs missing packages (a test points it elsewhere).
DEPS ?= scripts/deps.sh
deps:
	@$(DEPS)

fuzz: deps
	$(MAKE) FUZZ=1 fuzz-build

fuzz-build: $(FUZZERS)

fuzz-smoke: fuzz
	@tests/fuzz/smoke.sh build-fuzz

# The Fashion-MNIST pipeline at its CPU-sized defaults (docs/benchmarks.md
# says how long it took where), the raw-pixel k-means baseline, then the
# table. deps first, and the build in a make of its own after it, so that
# nothing is built before the packages it needs are there.
demo: deps
	$(MAKE) all
	$(MAKE) -f pipelines/fashion-mnist.mk BIN=$(abspath $(OUT))/bin BASELINE=1

# Fashion-MNIST's 10,000 test images exported as PNG files into one flat
# folder (the class only in the file name), clustered by pipelines/folder.mk
# like any folder of photos (10 minutes of training; FOLDER_DEMO= passes
# more variables, e.g. FOLDER_DEMO="TIME=3m"), then the NMI of clusters.csv
# joined back to the file names next to cdt-score's on the same clusters.
folder-demo: deps
	$(MAKE) all
	pipelines/folder-demo.sh $(abspath $(OUT))/bin work/folder-demo SIZE=16 CHANNELS=1 K=10 $(FOLDER_DEMO)

# The references (PyTorch, torchvision, sklearn) are optional packages.
bench:
	@$(DEPS) --optional
	$(MAKE) all
	@tests/bench/run.sh $(OUT)

# cdt.pc: how a program links libcdt.a (`pkg-config --cflags --libs --static
# cdt`): the packages the build itself took from pkg-config (scripts/need.sh
# makes sure they are there) as Requires.private, and what the compiler
# adds (OpenMP, threads, libm; the sanitizers of a SAN build) in Libs.private.
CDT_VERSION := $(shell sed -n 's/^\#define CDT_VERSION "\(.*\)"/\1/p' libcdt/include/cdt_core.h)
DOCS := LICENSE README.md $(wildcard docs/*.md) formats/cdt-stream.md formats/cdt_stream.py

install: all
	$(call say,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 \
	  $(DESTDIR)$(PREFIX)/share/doc/cdt
	$(Q)install -m 755 $(TOOLS) $(SCRIPT_TOOLS) $(DESTDIR)$(PREFIX)/bin
	$(Q)install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib
	$(Q)install -m 644 $(HEADERS) $(DESTDIR)$(PREFIX)/include
	$(Q)install -m 644 $(wildcard man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1
	$(Q)install -m 644 $(wildcard man/*.5) $(DESTDIR)$(PREFIX)/share/man/man5
	$(Q)install -m 644 $(wildcard man/*.7) $(DESTDIR)$(PREFIX)/share/man/man7
	$(Q)install -m 644 $(DOCS) $(DESTDIR)$(PREFIX)/share/doc/cdt
	$(Q)printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: cdt' 'Description: Contrastive Disentangling: tensor streams, ResNet training, k-means, metrics' \
	  'Version: $(CDT_VERSION)' \
	  'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lcdt' \
	  'Requires.private: $(PKGS)' 'Libs.private: $(strip $(LDFLAGS) -lm)' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/cdt.pc

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TOOL_SRC:tools/%.c=$(OUT)/obj/tools/%.d) \
	$(UNIT_SRC:tests/unit/%.c=$(OUT)/obj/tests/unit/%.d) $(FUZZ_SRC:tests/fuzz/%.c=$(OUT)/obj/tests/fuzz/%.d)

# ---- MPI: libcdt_mpi.so, the transport of data-parallel training ----------
# (cdt_comm.h). Built when mpicc is found (Debian: libopenmpi-dev), MPI=0
# turns it off; loaded at run time, so nothing else links MPI. Not
# instrumented in SAN builds (Open MPI's own allocations would be reported).
MPICC ?= $(shell command -v mpicc 2>/dev/null)
ifeq ($(FUZZ),)
MPI ?= $(if $(MPICC),1,0)
else
MPI ?= 0
endif
ifeq ($(MPI),1)
MPI_LIB := $(OUT)/lib/libcdt_mpi.so
all: $(MPI_LIB)
$(MPI_LIB): libcdt/comm/mpi/comm_mpi.c libcdt/comm/comm_i.h libcdt/include/cdt_core.h | need
	@mkdir -p $(dir $@)
	$(call say,MPICC,$@)
	$(Q)$(MPICC) -std=c11 -O2 -g -fPIC -shared -Wall -Wextra -Werror -D_DEFAULT_SOURCE \
	  -Ilibcdt/include -Ilibcdt $< -o $@ -Wl,-soname=libcdt_mpi.so
install: install-mpi
.PHONY: install-mpi
install-mpi: $(MPI_LIB)
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib
	$(Q)install -m 755 $(MPI_LIB) $(DESTDIR)$(PREFIX)/lib
endif

# ---- CUDA -----------------------------------------------------------------
# $(OUT)/lib/libcdt_cuda.so: the CUDA twins of the nn layers (libcdt/nn/cuda/*.cu,
# API in libcdt/include/cdt_cuda.h), $(OUT)/cuda/test_cuda_ops, which checks
# them against libcdt's CPU layers on a GPU, and bench_cuda_ops, which times
# them (tests/cuda/device-check.sh runs both; `make test` only builds them).
# Part of `all` when nvcc is found (PATH or /usr/local/cuda) or CUDA=1;
# CUDA=0 turns it off. Off by default in SAN and FUZZ builds: the CUDA
# runtime needs its own ASan options and the device code is not
# instrumented anyway. cuBLAS is linked dynamically (the toolkit here
# has no libcublas_static.a), found at run time through an rpath to the
# toolkit; cudart is nvcc's default, static.
NVCC ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))

# The kernels on a CPU emulation (g++, no nvcc or GPU needed; ~1 min): their
# indexing, barriers and reductions, not the GPU; then the tools with
# --device cuda on the same kernels (build/emu/libcdt_cuda.so). See
# tests/cuda/emu-check.sh.
.PHONY: cuda-emu
cuda-emu: $(LIB) $(TOOLS)
	@tests/cuda/emu-check.sh $(OUT)
ifeq ($(SAN)$(FUZZ),)
CUDA ?= $(if $(NVCC),1,0)
else
CUDA ?= 0
endif
ifeq ($(CUDA),1)
NVCC := $(or $(NVCC),nvcc)
CUDA_HOME ?= $(if $(findstring /,$(NVCC)),$(abspath $(dir $(realpath $(NVCC)))..),/usr/local/cuda)
# sm_90 machine code for Hopper, plus compute_90 PTX that newer GPUs JIT
CUDA_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVCCFLAGS ?= -O2 -lineinfo
NVCCFLAGS += -std=c++17 $(CUDA_ARCH) -Xcompiler -fPIC,-Wall,-Wextra,-Werror -Werror all-warnings \
	-Ilibcdt/include -Ilibcdt -MMD -MP
CUDA_SRC := $(wildcard libcdt/nn/cuda/*.cu)
CUDA_OBJ := $(CUDA_SRC:%.cu=$(OUT)/obj/%.o)
CUDA_LIB := $(OUT)/lib/libcdt_cuda.so
CUDA_TEST := $(OUT)/cuda/test_cuda_ops $(OUT)/cuda/bench_cuda_ops $(OUT)/cuda/bench_step
# device-check.sh links it statically against the CPU libraries when it is
# built here and carried to a GPU machine that lacks them
CUDA_TEST_LDLIBS ?= $(LDLIBS)

.PHONY: cuda install-cuda
all: cuda
cuda: $(CUDA_LIB) $(CUDA_TEST)

$(OUT)/obj/libcdt/nn/cuda/%.o: libcdt/nn/cuda/%.cu | need
	@mkdir -p $(dir $@)
	$(call say,NVCC,$<)
	$(Q)$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(CUDA_LIB): $(CUDA_OBJ) libcdt/nn/cuda/libcdt_cuda.map
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(NVCC) -shared -o $@ $(CUDA_OBJ) -Xlinker --version-script=libcdt/nn/cuda/libcdt_cuda.map,-soname=libcdt_cuda.so \
	  -L$(CUDA_HOME)/lib64 -lcublas -Xlinker -rpath=$(CUDA_HOME)/lib64

$(OUT)/cuda/%: $(OUT)/obj/tests/cuda/%.o $(LIB) $(CUDA_LIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $< $(LIB) $(CUDA_LIB) -Wl,-rpath,'$$ORIGIN/../lib' $(CUDA_TEST_LDLIBS) -o $@

install: install-cuda
install-cuda: $(CUDA_LIB)
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	$(Q)install -m 755 $(CUDA_LIB) $(DESTDIR)$(PREFIX)/lib
	$(Q)install -m 644 libcdt/include/cdt_cuda.h $(DESTDIR)$(PREFIX)/include

-include $(CUDA_OBJ:.o=.d) $(CUDA_TEST:$(OUT)/cuda/%=$(OUT)/obj/tests/cuda/%.d)
else
.PHONY: cuda
cuda:
	@echo "make cuda: the CUDA build is off (CUDA=$(CUDA)); nvcc not found? try CUDA=1 NVCC=/path/to/nvcc" >&2; false
endif

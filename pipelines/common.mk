# common.mk: the ingest -> augment -> train -> embed -> cluster -> score
# pipeline shared by every dataset's .mk. A dataset file sets DATASET and its
# defaults, then includes this one. Every intermediate is a file named by the
# settings that made it, so a run is resumable (make picks up where it
# stopped) and two settings never overwrite each other.
#
# Variables (override on the command line, e.g. EPOCHS=100 DEVICE=cuda):
#   BIN       where the tools are (default: build/bin of this checkout)
#   WORK      where intermediates and results go (default work/DATASET)
#   DATA      dataset path (default: the tool's own default for DATASET)
#   EPOCHS ARCH STEM WIDTH BATCH LR COSINE SEED SIZE JITTER BLUR DEVICE THREADS
#   CROP_FROM the side training images are ingested at (native: as stored);
#             cdt-augment crops their views there and resizes them to SIZE
#             (default: resized to SIZE at ingest, cropped after)
#   CROP      the random crop's least area fraction (cdt-augment --crop-scale;
#             default 0.08, the paper's; in the model's name only when set)
#   TI TF     the instance and feature loss temperatures (default: cdt-train's,
#             0.5 and 1.0, the paper's; in the model's name only when set)
#   FEATURES  feature heads, the width of f (cdt-train --feature-num; default
#             128, the paper's; in the model's name only when set)
#   LIMIT     train on the first LIMIT images of the training split only
#   TRAIN_SPLIT  the split trained on (default all: train+test, the paper's)
#   K         clusters (default: the class count)
#   EVAL_SPLIT  which split is embedded and scored (default all, the paper's)
#   EVAL_LIMIT  embed and score only the first EVAL_LIMIT images of it
#   CKPT_EVERY  training steps between checkpoints (default 200)
#   RANKS     train as RANKS data-parallel processes under mpirun (default 1):
#             each runs its own copy of the seeded ingest | augment pipe, whose
#             cdt-augment --shard keeps only that rank's rows of every batch
#             (the same model as one stream read by all); BATCH stays the global batch
#             (split RANKS ways), THREADS the machine's (split too); see
#             cdt-train(1) DATA PARALLEL. MPIRUN is the launcher's command.
#   BASELINE  1: also k-means on the raw pixels, a row of the table (numpy)
#
#   MAP_ON    the tensor cdt-map draws (default h)
#   V         1: print every command as it runs (default: one line per step,
#             what runs and where its output goes; pipelines/steps.mk)
#
# Targets: all (the HTML report, then the results table, markdown and JSON,
# printed at the end), report (only the report), baseline (only k-means on
# the raw pixels of the evaluated images), clean-work.

# Any failure anywhere in a pipe fails the target, and make removes the
# target's output, so a broken run never leaves a plausible-looking file.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
include $(TOP)/pipelines/steps.mk
BIN ?= $(TOP)/build/bin
WORK ?= work/$(DATASET)
DATA ?=
TRAIN_SPLIT ?= all
EVAL_SPLIT ?= all
LIMIT ?=
EVAL_LIMIT ?=
SEED ?= 0
LR ?= 3e-4
COSINE ?=
DEVICE ?= cpu
THREADS ?= $(shell nproc)
PYTHON ?= /usr/bin/python3
BASELINE ?=
CKPT_EVERY ?= 200
RANKS ?= 1
MPIRUN ?= mpirun --allow-run-as-root --oversubscribe
RANK_BATCH = $(shell echo $$(( $(BATCH) / $(RANKS) )))
SHARD_OPT = $(if $(filter-out 1,$(RANKS)),--shard auto --shard-batch $(RANK_BATCH),)
RANK_THREADS = $(shell t=$$(( $(THREADS) / $(RANKS) )); echo $$(( t > 0 ? t : 1 )))
SIZE_OPT := $(if $(SIZE),--size $(SIZE),)
# Training images at CROP_FROM (native: as stored), views cropped from them
# and resized to SIZE by cdt-augment; without it they are resized to SIZE first.
CROP_FROM ?=
TRAIN_SIZE_OPT := $(if $(CROP_FROM),$(if $(filter native,$(CROP_FROM)),,--size $(CROP_FROM)),$(SIZE_OPT))
BLUR_OPT := $(if $(filter 1 yes,$(BLUR)),--blur,)
JITTER_OPT := $(if $(JITTER),--jitter $(JITTER),)
CROP_OPT := $(if $(CROP),--crop-scale $(CROP),)
COSINE_OPT := $(if $(filter 1 yes,$(COSINE)),--cosine,)
TI ?=
TF ?=
TEMP_OPTS := $(if $(TI),--t-instance $(TI),) $(if $(TF),--t-feature $(TF),)
FEATURES ?=
FEATURES_OPT := $(if $(FEATURES),--feature-num $(FEATURES),)
INGEST_OPTS ?=

# Everything that changes the model is in its name; the evaluation adds its own.
TAG := $(ARCH)-$(STEM)-w$(WIDTH)-e$(EPOCHS)-b$(BATCH)-lr$(LR)$(if $(COSINE_OPT),cos,)-s$(SEED)$(if $(SIZE),-px$(SIZE),)$(if $(CROP_FROM),-from$(CROP_FROM),)$(if $(JITTER),-j$(JITTER),)$(if $(CROP),-cr$(CROP),)$(if $(BLUR_OPT),-blur,)$(if $(TI),-ti$(TI),)$(if $(TF),-tf$(TF),)$(if $(FEATURES),-F$(FEATURES),)-$(TRAIN_SPLIT)$(if $(LIMIT),$(LIMIT),)$(if $(filter-out 1,$(RANKS)),-r$(RANKS),)
EVAL := $(EVAL_SPLIT)$(if $(EVAL_LIMIT),$(EVAL_LIMIT),)
MODEL := $(WORK)/model-$(TAG).cdt
CKPT := $(MODEL).ckpt
TRAIN_LOG := $(WORK)/train-$(TAG).csv
TRAIN_TIME := $(WORK)/train-$(TAG).time
EMBED := $(WORK)/embed-$(TAG)-$(EVAL).cdts
EMBED_TIME := $(WORK)/embed-$(TAG)-$(EVAL).time
RESULTS := $(WORK)/results-$(TAG)-$(EVAL)
BASE := $(WORK)/baseline-pixels-$(EVAL)
MAP_ON ?= h
MAP := $(WORK)/map-$(MAP_ON)-$(TAG)-$(EVAL).cdts
IMAGES := $(WORK)/images-$(EVAL).cdts
REPORT := $(WORK)/report-$(TAG)-$(EVAL).html

# The wall and CPU seconds of the recipe's pipe, for report.sh: the start
# and end times, then bash's `times` (the shell's own user and system time,
# then its children's).
STAMP = start=$$(date +%s.%N)
CLOCK = { echo "$$start $$(date +%s.%N)"; times; } > $(1)

.PHONY: all results report baseline clean-work
all: results

$(WORK):
	$(Q)mkdir -p $@

# cdt-train stops reading after its last full batch, so the stages before it
# may end by SIGPIPE (status 141) once it is done: that is success, when
# cdt-train's own status is 0; any other failure fails the target.
PIPE_OK = [ $${st[2]} = 0 ] || { echo "train: pipe statuses $${st[*]}" >&2; false; }; \
	for i in 0 1; do [ $${st[i]} = 0 ] || [ $${st[i]} = 141 ] || { echo "train: pipe statuses $${st[*]}" >&2; false; }; done

# Training: a fresh shuffled order every epoch, views made on the fly;
# --progress, so that the steps to run and the ETA reach make's output
# whether or not stderr is a terminal (a line every 15 s when it is not). A
# checkpoint every CKPT_EVERY steps (and on Ctrl-C) lets a stopped run go on
# where it was: the next make resumes from it (the time and CPU of a resumed
# run are those of its last part).
# The pipe, run by make's shell, or with RANKS > 1 by a bash in every rank
# (with $$resume passed through mpirun's -x).
TRAIN_PIPE = $(BIN)/cdt-ingest $(DATASET) $(DATA) $(INGEST_OPTS) --split $(TRAIN_SPLIT) $(if $(LIMIT),--limit $(LIMIT),) \
	    $(TRAIN_SIZE_OPT) --epochs $(EPOCHS) --shuffle --seed $(SEED) -q \
	  | $(BIN)/cdt-augment --seed $(SEED) --threads $(RANK_THREADS) $(SIZE_OPT) $(JITTER_OPT) $(CROP_OPT) $(BLUR_OPT) $(SHARD_OPT) \
	  | $(BIN)/cdt-train --arch $(ARCH) --stem $(STEM) --width $(WIDTH) --batch $(RANK_BATCH) --lr $(LR) \
	      $(COSINE_OPT) $(TEMP_OPTS) $(FEATURES_OPT) --seed $(SEED) --device $(DEVICE) --threads $(RANK_THREADS) --log $(TRAIN_LOG) \
	      --checkpoint $(CKPT) --checkpoint-every $(CKPT_EVERY) $$resume --progress -o $@; \
	st=($${PIPESTATUS[@]})

$(MODEL): | $(WORK)
	@echo "train: $(DATASET), $(EPOCHS) epochs, $(ARCH) $(STEM) width $(WIDTH), batch $(BATCH)$(if $(filter-out 1,$(RANKS)), over $(RANKS) ranks,) -> $@" >&2
	@$(BIN)/cdt-train --version -v | grep -E '^OpenBLAS$(if $(filter-out cpu,$(DEVICE)),|^CUDA)' | sed 's/^/train: /' >&2 || true
	@[ $$(( $(BATCH) % $(RANKS) )) = 0 ] || { echo "train: BATCH=$(BATCH) is not a multiple of RANKS=$(RANKS)" >&2; false; }
	$(call step,cdt-ingest | cdt-augment | cdt-train$(if $(filter-out 1,$(RANKS)), x $(RANKS) ranks),$@)
	$(Q)$(STAMP); resume=; \
	if [ -e $(CKPT) ]; then resume="--resume $(CKPT)"; echo "train: resuming from $(CKPT)" >&2; fi; \
	$(if $(filter-out 1,$(RANKS)),\
	export resume; $(MPIRUN) -np $(RANKS) -x resume bash -ec '$(TRAIN_PIPE); $(PIPE_OK)';,\
	set +e; $(TRAIN_PIPE); set -e; $(PIPE_OK);) \
	$(call CLOCK,$(TRAIN_TIME)); \
	rm -f $(CKPT)

# Evaluation: every image once, no augmentation.
$(EMBED): $(MODEL)
	$(call step,cdt-ingest | cdt-embed,$@)
	$(Q)$(STAMP); \
	$(BIN)/cdt-ingest $(DATASET) $(DATA) $(INGEST_OPTS) $(SIZE_OPT) --split $(EVAL_SPLIT) \
	    $(if $(EVAL_LIMIT),--limit $(EVAL_LIMIT),) -q \
	  | $(BIN)/cdt-embed -m $< --device $(DEVICE) --threads $(THREADS) -o $@; \
	$(call CLOCK,$(EMBED_TIME))

# Static patterns, so that every file is a target make keeps and remakes
# when it goes missing.
CLUSTERS := $(WORK)/cluster-h-$(TAG)-$(EVAL).cdts $(WORK)/cluster-f-$(TAG)-$(EVAL).cdts
SCORES := $(WORK)/score-h-$(TAG)-$(EVAL).json $(WORK)/score-f-$(TAG)-$(EVAL).json
$(CLUSTERS): $(WORK)/cluster-%-$(TAG)-$(EVAL).cdts: $(EMBED)
	$(call step,cdt-cluster --on $*,$@)
	$(Q)$(BIN)/cdt-cluster --on $* $(if $(K),-k $(K),) --restarts 10 --seed $(SEED) -o $@ $<

$(SCORES): $(WORK)/score-%-$(TAG)-$(EVAL).json: $(WORK)/cluster-%-$(TAG)-$(EVAL).cdts
	$(call step,cdt-score,$@)
	$(Q)$(BIN)/cdt-score --json $< > $@

# The report is made before the table is printed, so that a run still ends
# with the table (and the line naming the report just above it).
results: $(RESULTS).md $(REPORT)
	@echo "report: $(REPORT)" >&2
	@cat $<
$(RESULTS).json: $(RESULTS).md
$(RESULTS).md: $(SCORES) $(if $(filter 1 yes,$(BASELINE)),$(BASE).json,)
	$(call step,report.sh (the table),$@)
	$(Q)$(TOP)/pipelines/report.sh "$(DATASET) $(TAG) eval=$(EVAL)" $(TRAIN_TIME) $(EMBED_TIME) $(TRAIN_LOG) \
	  $(wordlist 1,2,$^) $(RESULTS).json $(wordlist 3,3,$^) > $@

# The report: the evaluated images at their own size (thumbnails), the 2-D
# map of MAP_ON (also drawn as a PNG beside it), the clusters of h, the
# embedding (centrality, feature heads) and the training log when it is
# there (a model given from elsewhere has none).
report: $(REPORT)
$(IMAGES): | $(WORK)
	$(call step,cdt-ingest,$@)
	$(Q)$(BIN)/cdt-ingest $(DATASET) $(DATA) $(INGEST_OPTS) --split $(EVAL_SPLIT) \
	    $(if $(EVAL_LIMIT),--limit $(EVAL_LIMIT),) -q -o $@
$(MAP): $(EMBED)
	$(call step,cdt-map --on $(MAP_ON),$@)
	$(Q)$(BIN)/cdt-map --on $(MAP_ON) --seed $(SEED) --threads $(THREADS) -q \
	    --png $(@:.cdts=.png) -o $@ $<
$(REPORT): $(WORK)/cluster-h-$(TAG)-$(EVAL).cdts $(EMBED) $(MAP) $(IMAGES)
	$(call step,cdt-report,$@)
	$(Q)log=; [ -e $(TRAIN_LOG) ] && log="--log $(TRAIN_LOG)"; \
	$(BIN)/cdt-report --clusters $< --embed $(EMBED) --map $(MAP) --images $(IMAGES) $$log --model $(MODEL) \
	    --title "cdt: $(DATASET) $(TAG) eval=$(EVAL)" -o $@

# The baseline: k-means (same k, restarts and seed) on the raw pixels of the
# evaluated images at their own size (not SIZE), scaled to [0,1] and
# flattened, as the tensor h.
baseline: $(BASE).json
	@cat $<
$(BASE).json: | $(WORK)
	$(call step,cdt-ingest, cdt-cat, python3, cdt-cluster, cdt-score (raw pixels),$@)
	$(Q)$(BIN)/cdt-ingest $(DATASET) $(DATA) $(INGEST_OPTS) --split $(EVAL_SPLIT) \
	    $(if $(EVAL_LIMIT),--limit $(EVAL_LIMIT),) -q -o $(BASE).x.cdts
	$(Q)$(BIN)/cdt-cat --to-npy x -o $(BASE).x.npy $(BASE).x.cdts
	$(Q)$(BIN)/cdt-cat --to-npy y -o $(BASE).y.npy $(BASE).x.cdts
	$(Q)$(PYTHON) -c 'import numpy as n, sys; x = n.load(sys.argv[1]); \
	  n.save(sys.argv[2], (x.reshape(len(x), -1) / n.float32(255)).astype(n.float32))' $(BASE).x.npy $(BASE).h.npy
	$(Q)$(BIN)/cdt-cat --from-npy h=$(BASE).h.npy y=$(BASE).y.npy -o $(BASE).h.cdts
	$(Q)$(BIN)/cdt-cluster --on h $(if $(K),-k $(K),) --restarts 10 --seed $(SEED) -o $(BASE).c.cdts $(BASE).h.cdts
	$(Q)$(BIN)/cdt-score --json $(BASE).c.cdts > $@
	$(Q)rm -f $(BASE).x.cdts $(BASE).x.npy $(BASE).y.npy $(BASE).h.npy $(BASE).h.cdts $(BASE).c.cdts

clean-work:
	$(Q)rm -rf $(WORK)

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
#   EPOCHS ARCH STEM WIDTH BATCH LR SEED SIZE JITTER BLUR DEVICE THREADS
#   K         clusters (default: the class count)
#   EVAL_SPLIT  which split is embedded and scored (default all, the paper's)

# Any failure anywhere in a pipe fails the target, and make removes the
# target's output, so a broken run never leaves a plausible-looking file.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SECONDARY:

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
BIN ?= $(TOP)/build/bin
WORK ?= work/$(DATASET)
DATA ?=
EVAL_SPLIT ?= all
SEED ?= 0
LR ?= 3e-4
DEVICE ?= cpu
THREADS ?= $(shell nproc)
SIZE_OPT := $(if $(SIZE),--size $(SIZE),)
BLUR_OPT := $(if $(filter 1 yes,$(BLUR)),--blur,)
JITTER_OPT := $(if $(JITTER),--jitter $(JITTER),)
INGEST_OPTS ?=

TAG := $(ARCH)-$(STEM)-w$(WIDTH)-e$(EPOCHS)-b$(BATCH)-lr$(LR)-s$(SEED)$(if $(SIZE),-px$(SIZE),)$(if $(JITTER),-j$(JITTER),)$(if $(BLUR_OPT),-blur,)
MODEL := $(WORK)/model-$(TAG).cdt
TRAIN_LOG := $(WORK)/train-$(TAG).csv
TRAIN_TIME := $(WORK)/train-$(TAG).time
EMBED := $(WORK)/embed-$(TAG)-$(EVAL_SPLIT).cdts
RESULTS := $(WORK)/results-$(TAG)

.PHONY: all results clean-work
all: results

$(WORK):
	mkdir -p $@

# Training: a fresh shuffled order every epoch, views made on the fly.
$(MODEL): | $(WORK)
	@echo "train: $(DATASET), $(EPOCHS) epochs, $(ARCH) $(STEM) width $(WIDTH), batch $(BATCH) -> $@" >&2
	start=$$(date +%s.%N); \
	$(BIN)/cdt-ingest $(DATASET) $(DATA) $(INGEST_OPTS) $(SIZE_OPT) --epochs $(EPOCHS) --shuffle --seed $(SEED) -q \
	  | $(BIN)/cdt-augment --seed $(SEED) --threads $(THREADS) $(JITTER_OPT) $(BLUR_OPT) \
	  | $(BIN)/cdt-train --arch $(ARCH) --stem $(STEM) --width $(WIDTH) --batch $(BATCH) --lr $(LR) \
	      --seed $(SEED) --device $(DEVICE) --log $(TRAIN_LOG) -o $@; \
	echo "$$start $$(date +%s.%N)" > $(TRAIN_TIME)

# Evaluation: every image once, no augmentation.
$(EMBED): $(MODEL)
	$(BIN)/cdt-ingest $(DATASET) $(DATA) $(INGEST_OPTS) $(SIZE_OPT) --split $(EVAL_SPLIT) -q \
	  | $(BIN)/cdt-embed -m $< --device $(DEVICE) -o $@

$(WORK)/cluster-%-$(TAG)-$(EVAL_SPLIT).cdts: $(EMBED)
	$(BIN)/cdt-cluster --on $* $(if $(K),-k $(K),) --restarts 10 --seed $(SEED) -o $@ $<

$(WORK)/score-%-$(TAG)-$(EVAL_SPLIT).json: $(WORK)/cluster-%-$(TAG)-$(EVAL_SPLIT).cdts
	$(BIN)/cdt-score --json $< > $@

results: $(RESULTS).md
$(RESULTS).md: $(WORK)/score-h-$(TAG)-$(EVAL_SPLIT).json $(WORK)/score-f-$(TAG)-$(EVAL_SPLIT).json
	$(TOP)/pipelines/report.sh "$(DATASET) $(TAG) split=$(EVAL_SPLIT)" $(TRAIN_TIME) $(TRAIN_LOG) $^ \
	  $(RESULTS).json > $@
	@cat $@

clean-work:
	rm -rf $(WORK)

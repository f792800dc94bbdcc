# A folder of your own images (JPEG/PNG, any depth, no labels needed): train
# on the folder itself for a fixed time at CPU-friendly settings (or take
# MODEL=), embed every image, cluster (k chosen by silhouette unless K=),
# and leave under WORK:
#   clusters.csv   path,c,dist,rank,y,id for every image (cdt-cat --csv)
#   by-cluster/    cluster-NN/ with links to the files, most central first,
#                  and cluster-NN-nSIZE.png, a sheet of the most central
#   clusters-*.cdts  the clustered stream (c, dist, rank, path, f, y, id),
#                  named by the model and K; embed-*.cdts the embeddings
#
#   make -f pipelines/folder.mk DATA=~/photos [TIME=10m] [K=12] [MODEL=m.cdt]
#
# Variables:
#   DATA      the folder (required)
#   WORK      where everything goes (default work/folder-NAME, NAME the
#             folder's own name)
#   MODEL     a model file to use instead of training one
#   TIME      training time (cdt-train --time-limit; default 10m): the
#             cosine schedule is sized to it from the first steps' speed
#   SIZE CHANNELS FIT   what cdt-ingest makes of every image (default 32, 3,
#             crop); WIDTH ARCH STEM BATCH LR SEED THREADS as cdt-train's
#   EPOCHS    the most passes over the folder training may make (default
#             1000: TIME ends it first on any folder worth clustering)
#   K         clusters (default: by silhouette over K_RANGE, default 2..30)
#   LINK      --copy to copy the files into by-cluster/ instead of linking
#   SHEET_N   images per contact sheet (default 64)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
BIN ?= $(TOP)/build/bin
ifeq ($(DATA),)
$(error DATA= the folder of images to cluster, e.g. make -f pipelines/folder.mk DATA=~/photos)
endif
NAME := $(notdir $(patsubst %/,%,$(DATA)))
WORK ?= work/folder-$(NAME)
TIME ?= 10m
SIZE ?= 32
CHANNELS ?= 3
FIT ?= crop
ARCH ?= resnet18
STEM ?= cifar
WIDTH ?= 8
BATCH ?= 128
LR ?= 3e-3
SEED ?= 0
EPOCHS ?= 1000
THREADS ?= $(shell nproc)
K ?=
K_RANGE ?= 2..30
LINK ?=
SHEET_N ?= 64
INGEST := $(BIN)/cdt-ingest folder $(DATA) --size $(SIZE) --channels $(CHANNELS) --fit $(FIT) --skip-bad
TRAINED := $(WORK)/model-$(ARCH)-w$(WIDTH)-px$(SIZE)c$(CHANNELS)-$(FIT)-b$(BATCH)-lr$(LR)-s$(SEED)-t$(TIME).cdt
MODEL ?= $(TRAINED)
# Intermediates are named by what made them, so another MODEL or K is a
# new file (and clusters.csv follows the newest), never a stale one.
MTAG := $(basename $(notdir $(MODEL)))
EMBED := $(WORK)/embed-$(MTAG).cdts
CLUSTERS := $(WORK)/clusters-$(MTAG)-k$(if $(K),$(K),$(K_RANGE)).cdts

.PHONY: all clean-work
all: $(WORK)/clusters.csv $(WORK)/by-cluster/.done
	@echo "folder: $$(tail -n +2 $(WORK)/clusters.csv | wc -l) images in $$(ls -d $(WORK)/by-cluster/cluster-* | grep -vc png) clusters: $(WORK)/clusters.csv, $(WORK)/by-cluster/"

$(WORK):
	mkdir -p $@

# Training stops at TIME; the stages before it then end by SIGPIPE (141),
# which is success when cdt-train's own status is 0.
$(TRAINED): | $(WORK)
	@echo "train: $(DATA) for $(TIME), $(ARCH) width $(WIDTH) on $(SIZE)x$(SIZE)x$(CHANNELS) -> $@" >&2
	set +e; \
	$(INGEST) --epochs $(EPOCHS) --shuffle --seed $(SEED) -q \
	  | $(BIN)/cdt-augment --seed $(SEED) --threads $(THREADS) \
	  | $(BIN)/cdt-train --arch $(ARCH) --stem $(STEM) --width $(WIDTH) --batch $(BATCH) --lr $(LR) \
	      --cosine --time-limit $(TIME) --seed $(SEED) --threads $(THREADS) --progress \
	      --log $(WORK)/train.csv -o $@; \
	st=($${PIPESTATUS[@]}); set -e; \
	[ $${st[2]} = 0 ] || { echo "train: pipe statuses $${st[*]}" >&2; false; }; \
	for i in 0 1; do [ $${st[i]} = 0 ] || [ $${st[i]} = 141 ] || { echo "train: pipe statuses $${st[*]}" >&2; false; }; done

# Every image once, no augmentation; a file that does not decode is named
# on stderr and left out.
$(EMBED): $(MODEL) | $(WORK)
	$(INGEST) | $(BIN)/cdt-embed -m $< --threads $(THREADS) -o $@

$(CLUSTERS): $(EMBED)
	$(BIN)/cdt-cluster $(if $(K),-k $(K),--k-range $(K_RANGE)) -v --seed $(SEED) -o $@ $<

$(WORK)/clusters.csv: $(CLUSTERS)
	$(BIN)/cdt-cat --csv $< > $@

# Made afresh each time the clusters change.
$(WORK)/by-cluster/.done: $(CLUSTERS)
	rm -rf $(WORK)/by-cluster
	$(BIN)/cdt-cat --link-into $(WORK)/by-cluster $(LINK) --sheet-n $(SHEET_N) $<
	touch $@

clean-work:
	rm -rf $(WORK)

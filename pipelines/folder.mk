# A folder of your own images (JPEG/PNG, any depth, no labels needed): train
# on the folder itself for a fixed time at CPU-friendly settings (or take
# MODEL=), embed every image, cluster (k chosen by silhouette unless K=),
# and leave under WORK:
#   clusters.csv   path,c,dist,rank,y,id for every image (cdt-cat --csv)
#   by-cluster/    cluster-NN/ with links to the files, most central first,
#                  and cluster-NN-nSIZE.png, a sheet of the most central
#   clusters-*.cdts  the clustered stream (c, dist, rank, path, f, y, id),
#                  named by the model and K; embed-*.cdts the embeddings
#   model.cdt, centroids.cdt, embed.cdts  what made clusters.csv, kept for
#                  the targets below: the model, the cluster centres and
#                  the embedding
#   report.html    the HTML report: clusters, galleries, the training
#                  curve, the near-duplicates
#   duplicates.csv group,path,distance (to the group's first) of every
#                  image with a near-duplicate (target dups; all makes it)
#
#   make -f pipelines/folder.mk DATA=~/photos [TIME=10m] [K=12] [MODEL=m.cdt]
#   make -f pipelines/folder.mk assign DATA=~/photos NEW=~/new-photos
#       embeds only NEW's images with the kept model, gives each the nearest
#       kept centre (cdt-cluster --use-centroids: no training, no k-means,
#       the cluster numbers stay), appends them to clusters.csv and links
#       them into by-cluster/cluster-NN/ as new-NAME-RANK_FILE
#   make -f pipelines/folder.mk dups DATA=~/photos [DUPS=0.02]
#       duplicates.csv from the kept embedding (cdt-knn --dups)
#
# Variables:
#   DATA      the folder (required)
#   WORK      where everything goes (default work/folder-NAME, NAME the
#             folder's own name)
#   MODEL     a model file to use instead of training one
#   TIME      training time (cdt-train --time-limit; default 10m): the
#             cosine schedule is sized to it from the first steps' speed,
#             or ends with EPOCHS when those end first
#   SIZE CHANNELS FIT   what cdt-ingest makes of every image (default 32, 3,
#             crop); WIDTH ARCH STEM BATCH LR SEED THREADS as cdt-train's
#   EPOCHS    the most passes over the folder training may make (default
#             1000: TIME ends it first on any folder worth clustering)
#   K         clusters (default: by silhouette over K_RANGE, default 2..30)
#   LINK      --copy to copy the files into by-cluster/ instead of linking
#   SHEET_N   images per contact sheet (default 64)
#   NEW       the folder of new images for assign
#   DUPS      near-duplicate threshold: cosine distance of h (default 0.02)
#   DUPS_K    neighbours searched per image for the groups (default 10)
#   V         1: print every command (default: one line per step)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
include $(TOP)/pipelines/steps.mk
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
DUPS ?= 0.02
DUPS_K ?= 10
ingest = $(BIN)/cdt-ingest folder $(1) --size $(SIZE) --channels $(CHANNELS) --fit $(FIT) --skip-bad
INGEST := $(call ingest,$(DATA))
TRAINED := $(WORK)/model-$(ARCH)-w$(WIDTH)-px$(SIZE)c$(CHANNELS)-$(FIT)-b$(BATCH)-lr$(LR)-s$(SEED)-t$(TIME).cdt
MODEL ?= $(TRAINED)
# Intermediates are named by what made them, so another MODEL or K is a
# new file (and clusters.csv follows the newest), never a stale one.
MTAG := $(basename $(notdir $(MODEL)))
EMBED := $(WORK)/embed-$(MTAG).cdts
CLUSTERS := $(WORK)/clusters-$(MTAG)-k$(if $(K),$(K),$(K_RANGE)).cdts
CENTRES := $(CLUSTERS:%.cdts=%-centroids.cdts)
# What clusters.csv was made with, under fixed names, for assign and dups.
KEPT := $(WORK)/model.cdt $(WORK)/centroids.cdt $(WORK)/embed.cdts
DUPLICATES := $(WORK)/dups-$(MTAG)-t$(DUPS)-k$(DUPS_K).cdts

.PHONY: all assign dups clean-work
all: $(WORK)/clusters.csv $(WORK)/by-cluster/.done $(KEPT) $(WORK)/duplicates.csv $(WORK)/report.html
	@echo "folder: $$(tail -n +2 $(WORK)/clusters.csv | wc -l) images in $$(ls -d $(WORK)/by-cluster/cluster-* | grep -vc png) clusters: $(WORK)/clusters.csv, $(WORK)/by-cluster/"
	@echo "report: $(WORK)/report.html"

$(WORK):
	$(Q)mkdir -p $@

# Training stops at TIME; the stages before it then end by SIGPIPE (141),
# which is success when cdt-train's own status is 0.
$(TRAINED): | $(WORK)
	@echo "train: $(DATA) for $(TIME), $(ARCH) width $(WIDTH) on $(SIZE)x$(SIZE)x$(CHANNELS) -> $@" >&2
	$(Q)set +e; \
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
	$(call step,cdt-ingest | cdt-embed,$@)
	$(Q)$(INGEST) | $(BIN)/cdt-embed -m $< --threads $(THREADS) -o $@

$(CLUSTERS): $(EMBED)
	$(call step,cdt-cluster,$@)
	$(Q)$(BIN)/cdt-cluster $(if $(K),-k $(K),--k-range $(K_RANGE)) -v --seed $(SEED) \
	  --centroids $(CENTRES) -o $@ $<

$(CENTRES): $(CLUSTERS)
	$(Q)test -e $@

# Copies, not links: a later MODEL= or K= run replaces them, and a removed
# original cannot take them along. For assign and dups they are what there
# is: no rule, so that other settings never train or cluster again.
ifeq ($(filter assign dups,$(MAKECMDGOALS)),)
$(WORK)/model.cdt: $(MODEL) | $(WORK)
	$(call step,keep the model,$@)
	$(Q)$(if $(filter $(abspath $<),$(abspath $@)),touch $@,cp $< $@)

$(WORK)/centroids.cdt: $(CENTRES)
	$(call step,keep the centres,$@)
	$(Q)cp $< $@

$(WORK)/embed.cdts: $(EMBED)
	$(call step,keep the embedding,$@)
	$(Q)cp $< $@
endif

# Near-duplicates of the kept embedding: the rows in a group, by group,
# each with its distance to the group's first.
$(DUPLICATES): $(WORK)/embed.cdts
	$(call step,cdt-knn --dups,$@)
	$(Q)$(BIN)/cdt-knn -k $(DUPS_K) --dups $(DUPS) --threads $(THREADS) -v -o $@ $<

$(WORK)/duplicates.csv: $(DUPLICATES)
	$(call step,cdt-cat --csv (groups),$@)
	$(Q)echo group,path,distance > $@.tmp
	$(Q)$(BIN)/cdt-cat --csv --columns dup_group,path,dup_dist $< | tail -n +2 \
	  | awk -F, '$$1 >= 0' | sort -t, -k1,1n -s >> $@.tmp
	$(Q)mv $@.tmp $@

dups: $(WORK)/duplicates.csv
	@echo "dups: $$(tail -n +2 $< | wc -l) images in $$(tail -n +2 $< | cut -d, -f1 | sort -u | wc -l) groups: $<"

$(WORK)/report.html: $(CLUSTERS) $(DUPLICATES) $(WORK)/model.cdt
	$(call step,cdt-report,$@)
	$(Q)$(BIN)/cdt-report --clusters $(CLUSTERS) --dups $(DUPLICATES) --model $(WORK)/model.cdt \
	  $(if $(wildcard $(WORK)/train.csv),--log $(WORK)/train.csv) --title "$(NAME)" -o $@

# New images into the kept clusters: embedded with the kept model, each to
# its nearest kept centre; appended to clusters.csv (its columns) and
# linked into the cluster folders. Made once per NEW folder.
NEW_NAME := $(notdir $(patsubst %/,%,$(NEW)))
ASSIGNED := $(WORK)/assigned-$(NEW_NAME).cdts
assign: $(ASSIGNED)
	@echo "assign: $$($(BIN)/cdt-cat $(ASSIGNED) | sed -n 's/^meta rows_total=//p') images of $(NEW) into $(WORK)/clusters.csv, $(WORK)/by-cluster/"

$(ASSIGNED): $(WORK)/model.cdt $(WORK)/centroids.cdt
	@[ -n "$(NEW)" ] || { echo "assign: NEW= the folder of new images, e.g. NEW=~/new-photos" >&2; false; }
	$(call step,cdt-ingest | cdt-embed | cdt-cluster --use-centroids,$@)
	$(Q)test -e $(WORK)/clusters.csv -a -d $(WORK)/by-cluster
	$(Q)$(call ingest,$(NEW)) | $(BIN)/cdt-embed -m $(WORK)/model.cdt --threads $(THREADS) \
	  | $(BIN)/cdt-cluster --use-centroids $(WORK)/centroids.cdt -o $@.tmp
	$(Q)$(BIN)/cdt-cat --csv --columns "$$(head -n 1 $(WORK)/clusters.csv)" $@.tmp | tail -n +2 \
	  >> $(WORK)/clusters.csv
	$(Q)rm -rf $(WORK)/new-links
	$(Q)$(BIN)/cdt-cat --link-into $(WORK)/new-links $(LINK) --sheet-n 0 $@.tmp
	$(Q)for d in $(WORK)/new-links/cluster-*; do \
	  mkdir -p $(WORK)/by-cluster/$${d##*/}; \
	  for f in "$$d"/*; do mv "$$f" "$(WORK)/by-cluster/$${d##*/}/new-$(NEW_NAME)-$${f##*/}"; done; \
	done
	$(Q)rm -rf $(WORK)/new-links
	$(Q)mv $@.tmp $@

$(WORK)/clusters.csv: $(CLUSTERS)
	$(call step,cdt-cat --csv,$@)
	$(Q)$(BIN)/cdt-cat --csv $< > $@

# Made afresh each time the clusters change.
$(WORK)/by-cluster/.done: $(CLUSTERS)
	$(call step,cdt-cat --link-into,$(WORK)/by-cluster/)
	$(Q)rm -rf $(WORK)/by-cluster
	$(Q)$(BIN)/cdt-cat --link-into $(WORK)/by-cluster $(LINK) --sheet-n $(SHEET_N) $<
	$(Q)touch $@

clean-work:
	$(Q)rm -rf $(WORK)

# STL-10 as the paper: train+test (13,000 96x96 images; the unlabeled
# split is not used).
#   make -f pipelines/stl10.mk DATA=/path/to/stl10_binary
DATASET := stl10
K ?= 10
include $(dir $(lastword $(MAKEFILE_LIST)))paper.mk

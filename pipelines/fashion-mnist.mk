# Fashion-MNIST (70,000 28x28 grey images, 10 classes), sized for a 2-core
# CPU: the default settings are the ones `make demo` runs, chosen by
# measurement (README "Results"): a narrow ResNet18 (width 8) on images
# resized to 16x16 trains about 6 times as many images per CPU second as
# width 16 at 28x28, and in a fixed budget more steps beat more capacity;
# 14 epochs take about 8.5 minutes on an idle 2-core machine.
# Trained and scored on train+test, as the paper.
#   make -f pipelines/fashion-mnist.mk [EPOCHS=N WIDTH=N SIZE=N ...]
DATASET := fashion-mnist
EPOCHS ?= 14
ARCH ?= resnet18
STEM ?= cifar
WIDTH ?= 8
SIZE ?= 16
BATCH ?= 128
LR ?= 3e-3
COSINE ?= 1
K ?= 10
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk

# steps.mk: how a pipeline's recipes talk, included by common.mk (and so by
# every dataset's .mk); any other pipeline adopts it by including it too.
#
# By default each step prints one line on stdout, what runs and where its
# output goes:
#     cdt-ingest | cdt-embed -> work/fashion-mnist/embed-....cdts
# and its commands run silently; V=1 (as for the top-level Makefile) prints
# every command as well, as make does by default. What the tools say on
# stderr (cdt-train's steps and ETA, errors) is never hidden.
#
# A recipe adopts it with a $(call step,WHAT,OUTPUT) line first and $(Q)
# before each command line (a command continued with backslashes is one
# line, one $(Q)); lines that are only messages keep their own `@`:
#     $(EMBED): $(MODEL)
#     	$(call step,cdt-ingest | cdt-embed,$@)
#     	$(Q)$(BIN)/cdt-ingest ... | $(BIN)/cdt-embed -m $< -o $@
V ?= 0
ifeq ($(V),1)
Q :=
else
Q := @
MAKEFLAGS += --no-print-directory
endif
step = @printf '  %s -> %s\n' '$(1)' '$(2)'

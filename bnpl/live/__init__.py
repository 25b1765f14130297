"""The live path: signed webhooks → gateway → event log → loader → live table → day seal.

See ``../shared/DESIGN.md``, "The live path". Every step reuses the batch pieces (normalize,
contracts, the atomic day replace, build → gate → publish) through :mod:`bnpl.pipeline`.
"""

"""The bundled SQL project (models, assertions, warehouse statements), installed as ``bnpl._sql``."""

# Vendored from qdrant/qdrant-client v1.18.0 (tests/congruence_tests/__init__.py), Apache-2.0: see LICENSE in qdrant_tests/.
# vecrank's change: imports from `tests.` read `qdrant_tests.`.

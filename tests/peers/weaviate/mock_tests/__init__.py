# Vendored from weaviate/weaviate-python-client (mock_tests/__init__.py at 15e4aeb2), BSD-3-Clause: see LICENSE
# beside this file. Unchanged.

"""Framework integrations: vecrank as the post-processor of LangChain, LlamaIndex and Haystack.

Each lives in its own module, imported on its own, needing only its framework's extra:
``vecrank.integrations.langchain`` (``vecrank[langchain]``), ``vecrank.integrations.llamaindex``
(``vecrank[llamaindex]``) and ``vecrank.integrations.haystack`` (``vecrank[haystack]``).
"""

"""The chat app over a document set: ``metaembed-rag chat INDEX_OR_FOLDER``.

This is the optional ``[app]`` layer (``pip install 'metaembed-rag[app]'``): it imports
``langchain-core`` (chat messages and prompts) and, for the web UI, ``gradio``. The core package
never imports it; the CLI imports it only inside the ``chat`` subcommand.

- :mod:`.engine`: the chat logic, testable without a browser: condense a follow-up with the
  history, retrieve through :meth:`metaembed_rag.retriever.Retriever.search`, answer with a
  LangChain chat model citing pages as ``[file p.N]``, or show the best passage per page in
  retrieval-only mode.
- :mod:`.passages`: the passage of a page's text layer that best matches a question.
- :mod:`.llm`: a chat model from an ``init_chat_model`` string, and whether it reads images.
- :mod:`.uploads`: checked uploads added to the index incrementally.
- :mod:`.ui` and :mod:`.serve`: the Gradio app and the command that serves it.
"""

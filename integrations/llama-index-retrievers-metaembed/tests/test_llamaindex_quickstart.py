"""The README quickstart, exactly as written, in a fresh process with the network switched off."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from llamaindex_common import README, ROOT

# Every outgoing connection and name lookup fails in the child process.
NO_NETWORK = '''
import socket

def _refuse(*args, **kwargs):
    raise OSError("network disabled by the offline test")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
'''

# After the quickstart: the parts of llama-index-core that have fetched data in some versions.
AFTER = '''
print("--- engines")
from llama_index.core.chat_engine import CondensePlusContextChatEngine
from llama_index.core.llms.mock import MockLLM
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.utils import globals_helper
from llama_index.retrievers.metaembed import MetaEmbedPDFReader

print("query engine:", RetrieverQueryEngine.from_args(retriever, llm=MockLLM()).query("pumpkin soup")
      .source_nodes[0].node.metadata["citation"])
chat = CondensePlusContextChatEngine.from_defaults(retriever, llm=MockLLM())
chat.chat("pumpkin soup")
print("chat engine:", len(chat.chat("and the bus timetable?").source_nodes))  # condenses with history
docs = MetaEmbedPDFReader().load_data("samples/pdfs/riverton-transit-timetable.pdf")
print("splitter:", len(SentenceSplitter(chunk_size=128, chunk_overlap=0).get_nodes_from_documents(docs)))
print("punkt:", len(globals_helper.punkt_tokenizer.tokenize("One sentence. And another one.")))
# the guard is real: an encoding that is not bundled must be fetched, and that fails here
import tiktoken
try:
    tiktoken.get_encoding("r50k_base")
except Exception as error:
    print("fetch refused:", "network disabled by the offline test" in repr(error))
'''


def quickstart() -> str:
    """The first fenced python block of the README."""
    match = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert match is not None, "the README has no python block"
    return match.group(1)


def test_readme_quickstart_runs_as_written_offline(workdir: Path, index_path: Path, tmp_path: Path) -> None:
    code = quickstart()
    assert code.startswith("from llama_index.retrievers.metaembed import MetaEmbedRetriever\n")
    assert 'from_pdfs("samples/pdfs", index="samples.idx"' in code
    assert index_path == workdir / "samples.idx"  # built by the same call: the run reuses it
    script = tmp_path / "quickstart_offline.py"
    script.write_text(NO_NETWORK + code + AFTER)
    env = {k: v for k, v in os.environ.items() if k not in ("NLTK_DATA", "TIKTOKEN_CACHE_DIR")}
    (tmp_path / "tmp").mkdir()
    env |= {
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(README.parent)]),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # no user cache to hide a download
        "TMPDIR": str(tmp_path / "tmp"),  # tiktoken's default cache lives under it
        "OMP_NUM_THREADS": "1",
    }
    run = subprocess.run([sys.executable, str(script)], cwd=workdir, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout.splitlines()
    hit = re.compile(r"0\.\d{3} lumen-harbor-annual-report-2024\.pdf p\.\d+ "
                     rf"{re.escape(str(index_path))}/images/\w+\.png")
    assert all(hit.fullmatch(line) for line in out[:3]), run.stdout
    assert out[3].startswith("lumen-harbor-annual-report-2024.pdf p.")
    assert "query engine: harvest-table-recipes.pdf p.2" in out
    assert "chat engine: 3" in out and "punkt: 2" in out
    assert any(line.startswith("splitter: ") and int(line.split()[1]) > 5 for line in out)
    assert "fetch refused: True" in out
    assert "NLTK download error" not in run.stdout + run.stderr

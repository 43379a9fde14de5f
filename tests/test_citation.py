"""The repository's citation metadata and the book's BibTeX say the same."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_citation_file_and_the_books_bibtex_agree():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    bibtex = (ROOT / "book" / "intro.md").read_text().split("```bibtex", 1)[1].split("```", 1)[0]
    titles = re.findall(r"title\s*=\s*\{(.+?)\},", bibtex)
    assert titles == [cff["references"][0]["title"], cff["title"]]
    assert cff["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "arXiv:2106.02626" in bibtex and "2106.02626" in cff["references"][0]["url"]

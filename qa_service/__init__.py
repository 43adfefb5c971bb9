"""qa_service: answers questions about Dutch policy documents with cited passages."""

__version__ = "0.1.0"

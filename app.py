"""Launch the chat UI and the HTTP API (builds the index first when it is missing or stale). Logic lives in qa.web."""

from qa.web import main

if __name__ == "__main__":
    main()

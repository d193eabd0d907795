"""Launch the chat UI (builds the index first when it is missing or stale). Logic lives in qa.ui."""

from qa.ui import main

if __name__ == "__main__":
    main()

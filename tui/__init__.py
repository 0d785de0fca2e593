"""cantor composer: the Textual pianoroll editor."""

"""Each exercise's cases, a module per exercise named as its check: what the starter's verdict says
(STARTER_SAYS), the code only the last hint may name (FIX_CODE), ways to get it wrong (WRONG: rejected with
the words that name the bug) and right (RIGHT; None stands for REFERENCE, the helpers function itself)."""

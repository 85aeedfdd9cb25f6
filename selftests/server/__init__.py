"""The kit's own tests of `embedlab serve` (a package, so its module names never clash with other test folders)."""

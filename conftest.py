# The grading machinery lives in the embedlab package; this file only switches it on.
pytest_plugins = ["embedlab.grading.plugin"]

"""The instructor's commands: whole classes, releases and recordings.

- `grade`       `embedlab grade`: a folder of submissions into a gradebook, one bad one never
                stopping the rest
- `records`     the data of a class run: `Submission`, `Graded`, `Snapshot`, `GradeSettings`
- `submissions` a class's submissions read safely into memory, and their integrity flags
- `gradebook`   the CSV, the results files' names, the summary and progress lines
- `runner`      its runner: submissions `jobs` at a time, results accepted only from a grading
                process that exited by itself, each row written as it is done
- `grading_process`  one submission's grading process: a fork of the runner on a scratch kit
- `shards`      its `--shard` and `--merge`
- `autograde`   one submission for Gradescope or GitHub Classroom (the only "classroom" here)
- `gradescope`  the Gradescope autograder zip
- `release`     the learner's repository: stubs, tests, cassettes, no solutions
- `record`      `embedlab record`: a cassette set from the reference solutions
- `lint`        `embedlab cassettes check`: no secrets, real hosts or strays in a set
- `integrity`   the SHA-256 manifest of the tests and cassettes
- `pages`       `grades-report.html`: what the class got wrong, as one self-contained page
- `similarity`  `embedlab similarity` and `similarity.html`/`.csv` beside every gradebook: pairs
                of submissions ranked by shared code (copydetect's fingerprints), per exercise file

May import the grading side and the worker side; nothing imports this package except the
`embedlab` command (a grading run never does).
"""

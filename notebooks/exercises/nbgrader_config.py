"""nbgrader configuration of cmtoy's classroom exercises: this folder is the course directory.

One assignment per exercise, ``source/<assignment>/<assignment>.ipynb``; nbgrader writes the
student versions to ``release/``, collects hand-ins into ``submitted/<student>/<assignment>/``
and writes ``autograded/`` and ``feedback/``. Run nbgrader's commands from this folder
(README, "Classroom exercises").
"""

c = get_config()  # noqa: F821  (nbgrader provides get_config when it loads this file)

c.CourseDirectory.course_id = "cmtoy"
# the stub a student finds where the solution was; the checkers recognise it as "not implemented yet"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError"}

"""Paceline's instructor pipeline: plan, author, release, collect, grade, feed back, export."""

from .course.plan import CourseConfig, LessonPlan, LatePolicy, load_course
from .errors import PacelineError

__all__ = ["CourseConfig", "LessonPlan", "LatePolicy", "PacelineError", "load_course"]
__version__ = "0.1.0"

# Paceline: two commands do everything on a fresh machine.
#   make demo   build the environment, run the whole pipeline on the demo course, print the report path
#   make test   build the environment and run the test suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.paceline-installed
PACELINE := $(BIN)/paceline --course .

# The demo's "now": after the last lesson's due date, so the report shows the whole course.
DEMO_AS_OF ?= 2026-11-15
# Every persona of analytics/personas.py (two crammers), 53 attempts: a real cohort in the report without
# grading for minutes (10 students made 85 attempts, 36 about 300; 6, one of each persona, made 56).
DEMO_STUDENTS ?= 7

.PHONY: env labextension sandbox hub-tools browser demo demo-clean test bench clean

# Byte-compiled once here: a command's start-up then never compiles paceline's own modules, even where
# PYTHONDONTWRITEBYTECODE is set (a tenth of a second of every `paceline` start-up).
env: $(STAMP) labextension
	@$(BIN)/python -m compileall -q graders analytics >/dev/null

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "paceline needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --config-settings editable_mode=compat -e '.[test]'
	touch $(STAMP)

# The students' "My course" JupyterLab extension, prebuilt from TypeScript with JupyterLab's extension
# builder (@jupyter/builder; npm packages pinned by package-lock.json, @jupyterlab/core-meta at the
# students' JupyterLab version) into graders/hub/labextension/prebuilt/ (git-ignored), which the paceline
# wheel ships: students' environments need no Node. Build it before building a wheel.
LABEXT := graders/hub/labextension
LABEXT_BUILT := $(LABEXT)/prebuilt/package.json

labextension: $(LABEXT_BUILT)

$(LABEXT)/node_modules/.package-lock.json: $(LABEXT)/package.json $(LABEXT)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make labextension: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a == 20 && b >= 19) ? 0 : 1)' || \
		{ echo "make labextension: JupyterLab's extension builder needs Node.js 20.19 or newer, not $$(node --version)" >&2; exit 1; }
	cd $(LABEXT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(LABEXT_BUILT): $(LABEXT)/node_modules/.package-lock.json $(LABEXT)/tsconfig.json $(wildcard $(LABEXT)/src/*.ts $(LABEXT)/style/*)
	cd $(LABEXT) && rm -rf lib prebuilt tsconfig.tsbuildinfo && npx tsc
	cd $(LABEXT) && node node_modules/@jupyter/builder/lib/build-labextension.js \
		--core-package-file node_modules/@jupyterlab/core-meta/core.package.json . >/dev/null
	touch $@

# The kernel sandbox (bubblewrap, an unprivileged user pool): needs root, as CI has.
sandbox: env
	sh graders/sandbox/install.sh
	$(BIN)/python -m graders.sandbox check

# `paceline hub`'s tools in .hub-tools/: configurable-http-proxy from npm, and a Python environment
# for the students' servers built from Debian's python3 (students cannot run a venv under /root).
hub-tools: env labextension
	@command -v npm >/dev/null 2>&1 || { echo "make hub-tools: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }
	@/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv; }
	$(BIN)/python -m graders.hub install-tools

# Debian's chromium for the browser tests (tests/test_feedback_browser.py); Playwright drives it, because
# `playwright install` (its own browser download) cannot work here. Needs root, as CI has.
browser:
	@test -x /usr/bin/chromium || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

demo: env sandbox demo-clean
	$(PACELINE) check
	$(PACELINE) release
	$(PACELINE) simulate --students $(DEMO_STUDENTS)
	$(PACELINE) collect
	$(PACELINE) grade
	$(PACELINE) feedback
	$(PACELINE) export
	$(PACELINE) report --as-of $(DEMO_AS_OF)

# Everything the demo generates: simulated students and their work, never real course data.
demo-clean:
	rm -rf .paceline submitted/.attempts autograded feedback exports analytics/reports gradebook.db students.csv
	find submitted release -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +

# Two test processes, each taking whole modules (module fixtures are built once): many e2e tests wait on a
# browser, a hub or a kernel for much of their time, so one process leaves a 2-core machine half idle.
test: env sandbox hub-tools browser
	$(BIN)/python -m pytest --numprocesses 2 --dist loadfile

clean: demo-clean
	rm -rf $(VENV) *.egg-info $(LABEXT)/node_modules $(LABEXT)/lib $(LABEXT)/prebuilt $(LABEXT)/tsconfig.tsbuildinfo

# lidarlabel: `make run` opens the app on the sample scene, `make test` runs the whole suite headless.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAMPLE := sample_scenes/sample.h5
SYSTEM_PACKAGES := libusb-1.0-0 libgl1 libegl1 libglx-mesa0 libgl1-mesa-dri libgomp1 libx11-6 \
  libx11-xcb1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 \
  libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 \
  libxcb-glx0 libfontconfig1 libfreetype6 libglib2.0-0 libdbus-1-3 fonts-dejavu-core xvfb xauth
PYTEST_ARGS ?=

.PHONY: run test lint bench system-packages clean-venv sample

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Installs the Debian packages the GUI and GL tests need when we are root on Debian;
# otherwise prints the exact command to run.
system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing system packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "lidarlabel needs these system packages; please run:"; \
	  echo "  sudo apt-get install -y --no-install-recommends $$missing"; exit 1; \
	fi

$(SAMPLE): | $(STAMP)
	$(VENV)/bin/lidarlabel sample $(SAMPLE) --frames 20 --beams 64 --seed 7

sample: $(SAMPLE)

run: system-packages $(STAMP) $(SAMPLE)
	$(VENV)/bin/lidarlabel view $(SAMPLE) --labels sample_scenes/sample.gt.json

test: system-packages $(STAMP)
	$(VENV)/bin/ruff check lidarlabel tests bench
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=xcb $(PY) -m pytest -q $(PYTEST_ARGS)

# Every benchmark prints its figures, one JSON object last; the GL one needs a display (Xvfb).
bench: system-packages $(STAMP)
	for b in bench/[a-z]*.py; do echo "== $$b"; \
	  if [ "$$b" = bench/render.py ]; then xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX" $(PY) $$b || exit 1; \
	  else $(PY) $$b || exit 1; fi; done

clean-venv:
	rm -rf $(VENV)

// lddmm-face-gui: the desktop application. Thin: Qt setup, command-line options (also used by the tests
// and to make the README's screenshot), the main window.
#include <QApplication>
#include <QComboBox>
#include <QCommandLineParser>
#include <QTimer>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "lddmm/net/device.hpp"
#include "lddmm/ui/main_window.hpp"
#include "version.hpp"

namespace {

// What the command line asks of the window. Automation (frames, shots, teach) serves tests and screenshots.
struct GuiOptions {
  QString source, scheme, device = "auto", model, screenshot, overlay_shot, teach;
  int frames = -1;  // -1: no automation
  bool device_set = false;
};

GuiOptions parse(const QApplication& app) {
  QCommandLineParser cli;
  cli.setApplicationDescription("Real-time facial landmarks with LDDMM-Face");
  cli.addHelpOption();
  cli.addPositionalArgument("source", "A video, an image, a folder of images or a camera (0, /dev/video0)");
  const QCommandLineOption scheme(
      {"s", "scheme"}, "Scheme menu entry: model, dense2, dense3, wflw98, helen194, cofw29", "name");
  const QCommandLineOption frames("frames", "Automation: after this many frames, take the shots and quit",
                                  "n");
  const QCommandLineOption shot("screenshot", "Automation: save the window to this PNG", "file");
  const QCommandLineOption overlay("overlay-shot", "Automation: save the frame with its overlay to this PNG",
                                   "file");
  const QCommandLineOption teach("teach", "Automation: freeze and show the flow at time t before the shots",
                                 "t");
  const QCommandLineOption device(
      "device", "Where the network runs: auto (a GPU when present), cpu, cuda, cuda:N", "device", "auto");
  const QCommandLineOption model({"m", "model"}, "Model file (default: the shipped model, or $LDDMM_MODEL)",
                                 "file");
  const QCommandLineOption version("version", "Versions of the program, its default model and its libraries");
  cli.addOptions({scheme, device, model, version, frames, shot, overlay, teach});
  cli.process(app);
  GuiOptions o;
  if (!cli.positionalArguments().isEmpty()) o.source = cli.positionalArguments().front();
  o.scheme = cli.value(scheme);
  o.device = cli.value(device);
  o.device_set = cli.isSet(device);
  o.model = cli.value(model);
  o.screenshot = cli.value(shot);
  o.overlay_shot = cli.value(overlay);
  o.teach = cli.value(teach);
  if (cli.isSet(frames)) o.frames = cli.value(frames).toInt();
  return o;
}

// Device, model and scheme entry; an error line and false when one is wrong.
bool configure(lddmm::ui::MainWindow& window, const GuiOptions& o) {
  try {
    lddmm::parse_device(o.device.toStdString());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lddmm-face-gui: error: --device: %s\n", e.what());
    return false;
  }
  if ((o.device_set && !window.setDevice(o.device)) || (!o.model.isEmpty() && !window.openModel(o.model))) {
    std::fprintf(stderr, "lddmm-face-gui: error: %s\n", qPrintable(window.statusText().remove("Error: ")));
    return false;
  }
  if (!o.scheme.isEmpty()) {
    const QStringList keys = {"model", "dense2", "dense3", "wflw98", "helen194", "cofw29"};
    const int i = static_cast<int>(keys.indexOf(o.scheme));
    if (i < 0) {
      std::fprintf(stderr, "lddmm-face-gui: error: unknown scheme entry \"%s\"\n", qPrintable(o.scheme));
      return false;
    }
    window.schemeBox()->setCurrentIndex(i);
  }
  return true;
}

// After o.frames frames (or the source's end, or 2 minutes): the teaching view, the shots, a summary, quit.
void automate(lddmm::ui::MainWindow& window, const GuiOptions& o) {
  auto* timer = new QTimer(&window);
  auto waited = std::make_shared<int>(0);
  auto ended = std::make_shared<bool>(false);  // the source has no more frames (a photo, a short clip)
  QObject::connect(&window.player(), &lddmm::ui::Player::finished, &window, [ended] { *ended = true; });
  QObject::connect(timer, &QTimer::timeout, &window, [&window, o, timer, waited, ended] {
    *waited += 50;
    if (window.framesShown() < o.frames && !*ended && *waited < 120000 && window.player().isOpen()) return;
    timer->stop();
    if (!o.teach.isEmpty()) {
      window.setTeaching(true);
      window.setTeachingTime(o.teach.toDouble());
    }
    QApplication::processEvents();
    int rc = window.framesShown() >= o.frames || (*ended && window.framesShown() > 0) ? 0 : 1;
    if (!o.overlay_shot.isEmpty() && !window.view().renderOverlay().save(o.overlay_shot)) rc = 1;
    if (!o.screenshot.isEmpty() && !window.saveScreenshot(o.screenshot)) rc = 1;
    std::printf("lddmm-face-gui: %d frames shown (%.1f per second); %s\n", window.framesShown(),
                window.displayRate(), qPrintable(window.statusText()));
    QApplication::exit(rc);
  });
  timer->start(50);
}

}  // namespace

int main(int argc, char** argv) {
  // Before Qt: --version needs no display.
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--version") {
      std::printf("%s\n", lddmm::app::version_text("lddmm-face-gui").c_str());
      return 0;
    }
  QApplication app(argc, argv);
  QApplication::setOrganizationName("lddmm-face");
  QApplication::setApplicationName("lddmm-face");
  QApplication::setApplicationDisplayName("LDDMM-Face tracker");
  QApplication::setDesktopFileName("lddmm-face");
  const GuiOptions o = parse(app);
  lddmm::ui::MainWindow window;
  window.resize(1100, 760);
  window.show();
  if (!configure(window, o)) return 2;
  if (!o.source.isEmpty()) window.openSource(o.source);
  if (o.frames >= 0) automate(window, o);
  return QApplication::exec();
}

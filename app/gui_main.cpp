// lddmm-face-gui: the desktop application. Thin: Qt setup, command-line options (also used by the tests
// and to make the README's screenshot), the main window.
#include <QApplication>
#include <QComboBox>
#include <QCommandLineParser>
#include <QTimer>

#include <cstdio>
#include <exception>
#include <string>

#include "lddmm/core/device.hpp"
#include "lddmm/ui/main_window.hpp"
#include "version.hpp"

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
  lddmm::ui::PlayerSettings settings;
  settings.device = cli.value(device).toStdString();
  settings.model = cli.value(model).toStdString();
  try {
    lddmm::parse_device(settings.device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lddmm-face-gui: error: --device: %s\n", e.what());
    return 2;
  }

  lddmm::ui::MainWindow window;
  window.resize(1100, 760);
  window.show();
  if (cli.isSet(device) || cli.isSet(model)) {
    lddmm::ui::PlayerSettings s = window.player().settings();
    s.device = settings.device;
    if (cli.isSet(model)) s.model = settings.model;
    QString error;
    if (!window.player().apply(s, &error)) {
      std::fprintf(stderr, "lddmm-face-gui: error: %s\n", qPrintable(error));
      return 2;
    }
  }
  if (cli.isSet(scheme)) {
    const QString s = cli.value(scheme);
    const QStringList keys = {"model", "dense2", "dense3", "wflw98", "helen194", "cofw29"};
    const int i = static_cast<int>(keys.indexOf(s));
    if (i < 0) {
      std::fprintf(stderr, "lddmm-face-gui: error: unknown scheme entry \"%s\"\n", qPrintable(s));
      return 2;
    }
    window.schemeBox()->setCurrentIndex(i);
  }
  if (!cli.positionalArguments().isEmpty()) window.openSource(cli.positionalArguments().front());
  if (cli.isSet(frames)) {
    const int n = cli.value(frames).toInt();
    auto* timer = new QTimer(&window);
    int waited = 0;
    bool ended = false;  // the source has no more frames (a photo, a short clip)
    QObject::connect(&window.player(), &lddmm::ui::Player::finished, &window, [&ended] { ended = true; });
    QObject::connect(timer, &QTimer::timeout, &window, [&, timer, n]() mutable {
      waited += 50;
      if (window.framesShown() < n && !ended && waited < 120000 && window.player().isOpen()) return;
      timer->stop();
      if (cli.isSet(teach)) {
        window.setTeaching(true);
        window.setTeachingTime(cli.value(teach).toDouble());
      }
      QApplication::processEvents();
      int rc = window.framesShown() >= n || (ended && window.framesShown() > 0) ? 0 : 1;
      if (cli.isSet(overlay) && !window.view().renderOverlay().save(cli.value(overlay))) rc = 1;
      if (cli.isSet(shot) && !window.saveScreenshot(cli.value(shot))) rc = 1;
      std::printf("lddmm-face-gui: %d frames shown (%.1f per second); %s\n", window.framesShown(),
                  window.displayRate(), qPrintable(window.statusText()));
      QApplication::exit(rc);
    });
    timer->start(50);
  }
  return QApplication::exec();
}

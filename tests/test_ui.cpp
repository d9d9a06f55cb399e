// The main window's logic under Qt's offscreen platform: actions and shortcuts, errors in the status bar
// (never a modal dialog), playing the generated clip, export, recording, the scheme selector, the
// teaching view, persisted settings.
#include <QApplication>
#include <QComboBox>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <filesystem>

#include "lddmm/track/clip.hpp"
#include "lddmm/track/landmark_io.hpp"
#include "lddmm/ui/main_window.hpp"

using lddmm::ui::MainWindow;

class UiTest : public QObject {
  Q_OBJECT
 private:
  QTemporaryDir dir_;
  QString clip_;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QApplication::setOrganizationName("lddmm-face-test");
    QApplication::setApplicationName("lddmm-face-test");
    QSettings().clear();
    lddmm::ClipOptions o;
    if (std::filesystem::exists(o.faces_dir / o.image)) {
      o.frames = 40;
      clip_ = dir_.filePath("clip.avi");
      lddmm::generate_clip(o, clip_.toStdString(), dir_.filePath("clip.truth.csv").toStdString());
    }
  }

  void actionsHaveShortcutsAndDriveTheScene() {
    MainWindow w;
    for (const char* name :
         {"open",     "export",       "screenshot", "record",    "play",          "step",
          "teach",    "grid",         "momenta",    "landmarks", "indices",       "curves",
          "template", "trajectories", "boxes",      "smoothing", "mirror",        "accurate",
          "pose",     "fullscreen",   "shortcuts",  "quit",      "per_curve_grid"}) {
      QVERIFY2(w.action(name) != nullptr, name);
      QVERIFY2(!w.action(name)->shortcut().isEmpty(), name);
    }
    // Help ▸ Keyboard Shortcuts lists every action that has a key; About names the version and the terms.
    const QString keys = w.shortcutsText();
    for (const auto* line : {"F11\tFull Screen", "P\tHead Pose Axes", "G\tDeformation Grid", "Ctrl+Q\tQuit"})
      QVERIFY2(keys.contains(line), qPrintable(keys));
    QVERIFY(w.aboutText().contains(LDDMM_VERSION) && w.aboutText().contains("MIT") &&
            w.aboutText().contains("300-W"));
    const bool grid = w.sceneOptions().grid;
    w.action("grid")->trigger();
    QCOMPARE(w.sceneOptions().grid, !grid);
    QVERIFY(!w.player().settings().mirror);
    w.action("mirror")->trigger();  // the tracker is rebuilt with test-time mirroring
    QVERIFY2(w.player().settings().mirror, qPrintable(w.statusText()));
    QVERIFY(!w.player().settings().per_curve_grid);
    w.action("per_curve_grid")->trigger();  // the paper's per-curve grid instead of the continuous one
    QVERIFY2(w.player().settings().per_curve_grid, qPrintable(w.statusText()));
    w.action("mirror")->trigger();
    QVERIFY(!w.player().settings().mirror);
    w.action("accurate")->trigger();  // rebuilt as the ensemble of the two shipped models
    QVERIFY2(w.player().settings().accurate, qPrintable(w.statusText()));
    QVERIFY2(w.player().modelName().contains("accurate"), qPrintable(w.player().modelName()));
    w.action("accurate")->trigger();
    QVERIFY(!w.player().settings().accurate);
    QVERIFY(!w.player().modelName().contains("accurate"));
    QVERIFY(w.schemeBox()->count() >= 6);
  }

  void badSourcesGoToTheStatusBarNotADialog() {
    MainWindow w;
    w.show();
    QVERIFY(!w.openSource("/nonexistent/video.mp4"));
    QVERIFY2(w.statusText().contains("no such file"), qPrintable(w.statusText()));
    QVERIFY(QApplication::activeModalWidget() == nullptr);
    QVERIFY(!w.openSource("/dev/video97"));
    QVERIFY2(w.statusText().contains("camera"), qPrintable(w.statusText()));
  }

  // A frame without a face says how small a face is looked for; a frame with faces does not.
  void noFaceHintOnAnEmptyFrame() {
    const QString blank = dir_.filePath("blank.png");
    QImage img(320, 240, QImage::Format_RGB888);
    img.fill(QColor(90, 110, 120));
    QVERIFY(img.save(blank));
    MainWindow w;
    w.show();
    QVERIFY(w.openSource(blank));
    QTRY_VERIFY_WITH_TIMEOUT(w.framesShown() >= 1, 60000);
    const auto& labels = w.view().scene().labels;
    QVERIFY(std::any_of(labels.begin(), labels.end(), [&](const lddmm::Scene::Label& l) {
      return l.text.find("no face of at least " + std::to_string(w.player().settings().min_face) +
                         " px found") != std::string::npos;
    }));
  }

  void playsTheClipExportsAndRecords() {
    if (clip_.isEmpty()) QSKIP("dlib's example photos are not installed: no sample clip");
    MainWindow w;
    w.show();
    QVERIFY(w.openSource(clip_));
    QTRY_VERIFY_WITH_TIMEOUT(w.framesShown() >= 5, 60000);
    QVERIFY(w.view().scene().dots.size() >= 3 * 68u);
    for (const auto& l : w.view().scene().labels) QVERIFY(l.text.find("no face") == std::string::npos);
    const QString rec = dir_.filePath("overlay.avi");
    QVERIFY(w.startRecording(rec));
    const int at = w.framesShown();
    QTRY_VERIFY_WITH_TIMEOUT(w.framesShown() >= at + 3, 60000);
    w.stopRecording();
    QVERIFY(QFileInfo(rec).size() > 1000);
    const QString csv = dir_.filePath("landmarks.csv");
    QVERIFY(w.exportLandmarks(csv));
    const auto rows = lddmm::read_landmarks(csv.toStdString());
    QVERIFY(rows.size() >= 5u);
    QCOMPARE(rows.front().points.rows(), Eigen::Index(68));
    const QString png = dir_.filePath("shot.png");
    QVERIFY(w.saveScreenshot(png));
    QVERIFY(QImage(png).width() > 100);
  }

  void schemeSelectorCarriesAnotherSchemeAndTeachingFlows() {
    if (clip_.isEmpty()) QSKIP("dlib's example photos are not installed: no sample clip");
    MainWindow w;
    w.show();
    QVERIFY(w.openSource(clip_));
    w.schemeBox()->setCurrentIndex(3);  // WFLW 98
    QTRY_VERIFY_WITH_TIMEOUT(w.player().outputScheme() && w.player().outputScheme()->num_points == 98, 30000);
    const int at = w.framesShown();
    QTRY_VERIFY_WITH_TIMEOUT(w.framesShown() >= at + 2, 60000);
    QVERIFY(!w.player().current()->result.faces.empty());
    QCOMPARE(w.player().current()->result.faces.front().points.rows(), Eigen::Index(98));
    // Teaching: at t = 0 the landmarks sit on the template, at t = 1 on the flowed curves.
    w.setTeaching(true);
    QVERIFY(!w.player().playing());
    const auto& face = w.player().current()->result.faces.front();
    QVERIFY(face.flow.has_value());
    w.setTeachingTime(0.0);
    const auto start = w.view().scene().dots;
    w.setTeachingTime(1.0);
    const auto end = w.view().scene().dots;
    QVERIFY(start.size() >= 68u);
    QVERIFY((start.front().p - face.flow->template_points.row(0)).norm() < 1e-6);
    QVERIFY((start.front().p - end.front().p).norm() > 0.5);
  }

  void settingsPersist() {
    {
      MainWindow w;
      w.action("momenta")->setChecked(false);
      w.close();
    }
    MainWindow again;
    QVERIFY(!again.action("momenta")->isChecked());
    QVERIFY(!again.sceneOptions().momenta);
  }
};

QTEST_MAIN(UiTest)
#include "test_ui.moc"

#include "lddmm/ui/overlay_view.hpp"

#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>

#include <cmath>

namespace lddmm::ui {

QImage to_qimage(const cv::Mat& bgr) {
  if (bgr.empty()) return {};
  return QImage(bgr.data, bgr.cols, bgr.rows, static_cast<qsizetype>(bgr.step), QImage::Format_BGR888).copy();
}

namespace {
QColor qcolour(Rgb c) { return QColor(c.r, c.g, c.b); }
QPointF qpoint(const Eigen::RowVector2d& p) { return {p.x(), p.y()}; }
}  // namespace

void paint_scene(QPainter& p, const Scene& scene, double w) {
  p.setRenderHint(QPainter::Antialiasing, true);
  for (const Scene::Line& l : scene.lines) {
    QPen pen(qcolour(l.colour), l.width * w);
    pen.setCapStyle(Qt::RoundCap);
    p.setPen(pen);
    const QPointF a = qpoint(l.a), b = qpoint(l.b);
    p.drawLine(a, b);
    if (l.arrow) {
      const QPointF d = b - a;
      const double len = std::hypot(d.x(), d.y());
      if (len > 1e-6) {
        const QPointF u = d / len, n(-u.y(), u.x());
        const double head = std::min(len * 0.3, 6.0 * w);
        QPainterPath tip;
        tip.moveTo(b);
        tip.lineTo(b - head * u + 0.5 * head * n);
        tip.lineTo(b - head * u - 0.5 * head * n);
        tip.closeSubpath();
        p.fillPath(tip, qcolour(l.colour));
      }
    }
  }
  p.setPen(Qt::NoPen);
  for (const Scene::Dot& d : scene.dots) {
    p.setBrush(qcolour(d.colour));
    p.drawEllipse(qpoint(d.p), d.radius * w, d.radius * w);
  }
  QFont f = p.font();
  for (const Scene::Label& t : scene.labels) {
    f.setPixelSize(std::max(6, static_cast<int>(std::lround(13 * t.size * w))));
    p.setFont(f);
    p.setPen(qcolour(t.colour));
    p.drawText(qpoint(t.p), QString::fromStdString(t.text));
  }
}

OverlayView::OverlayView(QWidget* parent) : QWidget(parent) {
  setAutoFillBackground(false);
  setMinimumSize(320, 240);
  setAttribute(Qt::WA_OpaquePaintEvent);
}

void OverlayView::setFrame(const QImage& image, Scene scene) {
  image_ = image;
  scene_ = std::move(scene);
  placeholder_.clear();
  update();
}

void OverlayView::setScene(Scene scene) {
  scene_ = std::move(scene);
  update();
}

void OverlayView::setMomentumLegend(bool show, double scale) {
  legend_ = show;
  legend_scale_ = scale;
  update();
}

void OverlayView::setOverlayScale(double scale) {
  overlay_scale_ = scale;
  update();
}

void OverlayView::setPlaceholder(const QString& text) {
  placeholder_ = text;
  update();
}

QTransform OverlayView::imageToWidget() const {
  if (image_.isNull()) return {};
  const double s = std::min(width() / static_cast<double>(image_.width()),
                            height() / static_cast<double>(image_.height()));
  const double dx = (width() - s * image_.width()) / 2, dy = (height() - s * image_.height()) / 2;
  return QTransform(s, 0, 0, s, dx, dy);
}

void OverlayView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), QColor(24, 24, 24));
  if (!image_.isNull()) {
    const QTransform t = imageToWidget();
    p.setTransform(t);
    p.setRenderHint(QPainter::SmoothPixmapTransform, true);
    p.drawImage(QPointF(0, 0), image_);
    // Lines stay about 1.5 device pixels wide whatever the zoom.
    paint_scene(p, scene_, 1.5 * overlay_scale_ / std::max(t.m11(), 1e-6));
    p.resetTransform();
    if (legend_ && legend_scale_ > 0) {
      // A 60-pixel reference arrow and the momentum it stands for, in image pixels.
      const double alpha = 60.0 / (t.m11() * legend_scale_);
      const QPointF a(16, height() - 18), b(76, height() - 18);
      p.setPen(QPen(QColor(colours::kMomentum.r, colours::kMomentum.g, colours::kMomentum.b), 2));
      p.drawLine(a, b);
      p.drawLine(b, b + QPointF(-7, -4));
      p.drawLine(b, b + QPointF(-7, 4));
      p.setPen(QColor(235, 235, 235));
      p.drawText(QPointF(84, height() - 13), QString("|α| = %1 px").arg(alpha, 0, 'f', 1));
    }
  }
  if (!placeholder_.isEmpty()) {
    p.setPen(QColor(220, 220, 220));
    p.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
  }
}

void OverlayView::mousePressEvent(QMouseEvent* event) {
  if (image_.isNull()) return;
  bool ok = false;
  const QTransform inv = imageToWidget().inverted(&ok);
  if (ok) Q_EMIT imageClicked(inv.map(event->position()));
}

QImage OverlayView::renderOverlay() const {
  if (image_.isNull()) return {};
  QImage out = image_.convertToFormat(QImage::Format_RGB888);
  QPainter p(&out);
  paint_scene(p, scene_, std::max(1.0, image_.width() / 640.0) * overlay_scale_);
  return out;
}

}  // namespace lddmm::ui

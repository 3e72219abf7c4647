#pragma once

#include <QObject>
#include <QString>
#include <QWidget>

class QComboBox;
class QPlainTextEdit;

namespace gfm::ui {

/**
 * @brief Carries log messages from any thread to the log views on the GUI thread.
 *
 * The application's message handler calls post(); the signal is queued to receivers living
 * on other threads, so posting never blocks on the GUI.
 */
class LogBus : public QObject
{
  Q_OBJECT

public:
  /** @brief The process-wide bus, created on first use (call it once on the GUI thread). */
  static LogBus* instance();

  /** @brief Thread-safe: emits messagePosted. */
  void post(QtMsgType type, const QString& category, const QString& message);

signals:
  /** A message was logged; `type` is a QtMsgType. */
  void messagePosted(int type, const QString& category, const QString& message);

private:
  LogBus() = default;
};

/** @brief A read-only view of the log, filtered by category and severity. */
class LogView : public QWidget
{
  Q_OBJECT

public:
  /** @brief Lines kept; older ones scroll away. */
  static constexpr int kMaxLines = 5000;

  explicit LogView(QWidget* parent = nullptr);

  /** @brief The text shown now (tests). */
  QString text() const;

public slots:
  void append(int type, const QString& category, const QString& message);

private:
  bool accepts(int type, const QString& category) const;

  QPlainTextEdit* m_text = nullptr;
  QComboBox* m_category = nullptr;
  QComboBox* m_level = nullptr;
};

} // namespace gfm::ui

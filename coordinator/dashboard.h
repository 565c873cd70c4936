// The HTML dashboard served at GET / (coordinator/dashboard.html, compiled
// in by cmake/embed.cmake so the binary stays self-contained).
#ifndef TRIBUTARY_COORDINATOR_DASHBOARD_H_
#define TRIBUTARY_COORDINATOR_DASHBOARD_H_

namespace tributary::coordinator {

extern const char kDashboardHtml[];

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_DASHBOARD_H_

// report.js: the report page's print button. Everything else on the page is drawn by the server.
document.getElementById("print")?.addEventListener("click", () => window.print());
document.body.dataset.ready = "1";

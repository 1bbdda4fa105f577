CREATE VIEW e2e_widget_names AS SELECT name FROM e2e_widgets;

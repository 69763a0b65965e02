-- current_classifications: one row per article, the newest classification it has (a new
-- model version that reclassifies history supersedes older rows; older rows stay for audit).
CREATE OR REPLACE VIEW current_classifications AS
SELECT article_id, model_version, relevant, dyads, topics, scores, evidence, classified_at
FROM classifications
QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY classified_at DESC, model_version DESC) = 1;

//! Restore templates of a test's own on the staging cluster, made as a refusal's hint says.

use super::Sandbox;

/// A restore template of the test's own on the staging cluster, made as the refusal says:
/// the sandbox's template with what the hint names in place, dropped with the guard.
pub struct Template {
    pub name: String,
    url: String,
}

impl Template {
    pub async fn made_as_the_hint_says(sb: &Sandbox, tag: &str, hint: &str) -> Template {
        let name = format!("acc_t_{tag}_tpl_{}", std::process::id());
        let admin = sb.admin("ACC_STAGING_URL", "postgres").await;
        for sql in [
            format!("CREATE DATABASE {name} TEMPLATE acc_template"),
            format!("ALTER DATABASE {name} IS_TEMPLATE true"),
        ] {
            admin.batch_execute(&sql).await.unwrap();
        }
        let template = Template {
            name,
            url: sb.var("ACC_STAGING_URL").to_string(),
        };
        // the statements the refusal's hint names, run as it says: once, as a superuser
        let statements = hint
            .split_once(", run: ")
            .and_then(|(_, rest)| rest.split_once(". Staging is untouched"))
            .map(|(sql, _)| sql.to_string())
            .unwrap_or_else(|| panic!("the hint names the statements: {hint}"));
        sb.admin("ACC_STAGING_URL", &template.name)
            .await
            .batch_execute(&statements)
            .await
            .unwrap_or_else(|e| panic!("{statements}: {e:?}"));
        template
    }
}

impl Template {
    /// Makes the profile in `config` restore from this template instead of the sandbox's.
    pub fn set_in(&self, config: &std::path::Path) {
        let text = std::fs::read_to_string(config).unwrap();
        let from = "template = \"acc_template\"";
        assert!(text.contains(from), "{text}");
        let to = format!("template = \"{}\"", self.name);
        std::fs::write(config, text.replacen(from, &to, 1)).unwrap();
    }
}

impl Drop for Template {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args(["-q", "-X", "-c"])
            .arg(format!("ALTER DATABASE {} IS_TEMPLATE false", self.name))
            .arg("-c")
            .arg(format!("DROP DATABASE IF EXISTS {}", self.name))
            .arg(format!("{}/postgres", self.url))
            .output();
    }
}

/**
 * Paceline's "My course" for students: a left-sidebar panel opened when JupyterLab starts, a
 * launcher card and a command that bring it back. See panel.ts for what the panel shows.
 */

import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ILauncher } from '@jupyterlab/launcher';
import { LabIcon } from '@jupyterlab/ui-components';

import { MyCoursePanel } from './panel';

const OPEN = 'paceline:open-my-course';

// A flag on a pole: paceline's own drawing, no external asset.
const courseIcon = new LabIcon({
  name: 'paceline-my-course:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><g class="jp-icon3" fill="#616161">' +
    '<path d="M5 2h2v20H5z"/><path d="M8 3h11l-3 4 3 4H8z"/></g></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'paceline-my-course:plugin',
  description: "A student's own course in JupyterLab: dates, scores, pace and what comes next.",
  autoStart: true,
  requires: [ILabShell],
  optional: [ILauncher],
  activate: (app: JupyterFrontEnd, shell: ILabShell, launcher: ILauncher | null) => {
    const panel = new MyCoursePanel({
      openPath: async (path: string) => {
        await app.commands.execute('filebrowser:go-to-path', { path: `/${path}` });
      }
    });
    panel.title.icon = courseIcon;
    shell.add(panel, 'left', { rank: 50 });
    app.commands.addCommand(OPEN, {
      label: 'My course',
      caption: 'Your dates, scores, pace and next lesson',
      icon: courseIcon,
      execute: () => {
        shell.activateById(panel.id);
      }
    });
    launcher?.add({ command: OPEN, category: 'Course', rank: 0 });
    panel.start();
    void app.restored.then(() => shell.activateById(panel.id));
  }
};

export default plugin;
